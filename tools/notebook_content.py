"""The cells of the two section notebooks: shared code cells and per-language markdown.

``tools/build_notebooks.py`` turns :data:`CELLS` into ``notebooks/{ja,en}/transposed_conv.ipynb``.

* A code cell's source is a ``str`` (the same in both notebooks) or a function of the
  language. Only two kinds of code cell differ between the languages, and
  ``tests/test_notebooks.py`` checks exactly that: the Colab setup cell
  (``colab_setup_source(lang)``) and the figure cells (their ``lang="ja"``/``lang="en"``
  argument). Comments in code cells are English in both notebooks.
* Cells whose id starts with ``inNN-`` are the seed's code cell ``In [NN]`` (the book's
  code), with only the changes that let it run on the GPU as well as on the CPU
  (``device=...``, ``.to(device)``) and a seed for the random cell.
* Markdown is a dict ``{"ja": ..., "en": ...}``. The Japanese text is a corrected
  translation of the section; the English text is this project's own translation of it.
"""

from __future__ import annotations

import re

from d2l_tconv.project import REPO_URL, colab_badge, colab_setup_source, colab_url

NOTEBOOK_PATH = "notebooks/{lang}/transposed_conv.ipynb"
LANGS = ("ja", "en")

# Links of the book's cross-references (:numref:, :cite:) and of the attribution.
SEC_CONV_LAYER = "https://d2l.ai/chapter_convolutional-neural-networks/conv-layer.html"
SEC_POOLING = "https://d2l.ai/chapter_convolutional-neural-networks/pooling.html"
SEC_THIS = "https://d2l.ai/chapter_computer-vision/transposed-conv.html"
DISCUSSION = "https://discuss.d2l.ai/t/1450"
ARXIV = "https://arxiv.org/abs/1603.07285"
CC_BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"
EXERCISES_README = "../../exercises/README.md"  # relative to notebooks/<lang>/


def _figure_cell(stride: int):
    def source(lang: str) -> str:
        return (
            f"# Figure {stride}: drawn from the tensors by d2l_tconv.plot_trans_conv\n"
            "d2l_tconv.plot_trans_conv(\n"
            "    torch.tensor([[0.0, 1.0], [2.0, 3.0]]),\n"
            "    torch.tensor([[0.0, 1.0], [2.0, 3.0]]),\n"
            f"    stride={stride},\n"
            f'    lang="{lang}",\n'
            ")"
        )

    return source


def _md(ja: str, en: str) -> dict[str, str]:
    return {"ja": ja.strip("\n"), "en": en.strip("\n")}


def _title(lang: str) -> str:
    badge = colab_badge(NOTEBOOK_PATH.format(lang=lang))
    if lang == "ja":
        return f"""{badge}

<a id="sec-transposed-conv"></a>

# 転置畳み込み

このノートブックは、*Dive into Deep Learning*（A. Zhang, Z. C. Lipton, M. Li, A. J. Smola 著）の
14.10 節「[Transposed Convolution]({SEC_THIS})」を翻訳・改変したもので、原著と同じ
[CC BY-SA 4.0]({CC_BY_SA}) ライセンスで提供します。原著の議論の場は
[こちら]({DISCUSSION})（英語）です。"""
    return f"""{badge}

<a id="sec-transposed-conv"></a>

# Transposed Convolution

This notebook is adapted and translated from section 14.10, "[Transposed Convolution]({SEC_THIS})",
of *Dive into Deep Learning* by A. Zhang, Z. C. Lipton, M. Li and A. J. Smola, and is shared under
the same licence, [CC BY-SA 4.0]({CC_BY_SA}). The book's discussion thread for this section is
[here]({DISCUSSION})."""


SETUP_TEXT = _md(
    f"""
**実行の準備。** Colab では、次のセルが d2l と d2l_tconv をインストールします（ローカル環境では
`make lab` で準備が済んでいるので、何もしません）。その次のセルでライブラリを読み込み、計算に使う
デバイスを選びます。GPU があれば GPU を、なければ CPU を使い、どちらでも同じ結果になります。
問題があれば、[GitHub の issue]({REPO_URL}/issues) で報告してください。
""",
    f"""
**Setup.** In Colab, the next cell installs d2l and d2l_tconv (locally, `make lab` has already
set everything up, so it does nothing). The cell after it imports the libraries and picks the
device to compute on: a GPU if there is one, otherwise the CPU; the results are the same on both.
If something goes wrong, please report it as a [GitHub issue]({REPO_URL}/issues).
""",
)

INTRO = _md(
    f"""
これまでに見てきた畳み込み層（[「画像のための畳み込み」の節]({SEC_CONV_LAYER})）やプーリング層
（[「プーリング」の節]({SEC_POOLING})）などの CNN の層は、通常、入力の空間次元（高さと幅）を
縮小（ダウンサンプリング）するか、そのまま保ちます。ピクセル単位で分類を行うセマンティック
セグメンテーションでは、入力と出力の空間次元が同じだと便利です。たとえば、ある出力ピクセルの
チャネル次元に、同じ空間位置にある入力ピクセルの分類結果を持たせることができます。

これを実現するには、とくに CNN の層で空間次元が縮小された後に、中間特徴マップの空間次元を拡大
（アップサンプリング）できる別の種類の CNN の層を使います。本節では、畳み込みによるダウン
サンプリングとは逆向きの操作を行うための**転置畳み込み**（*分数ストライド畳み込み*とも
呼ばれます [[Dumoulin and Visin, 2016]](#references)）を紹介します。
""",
    f"""
The CNN layers seen so far, such as convolutional layers
([section "Convolutions for Images"]({SEC_CONV_LAYER})) and pooling layers
([section "Pooling"]({SEC_POOLING})), normally either reduce the spatial dimensions (height and
width) of their input (downsampling) or keep them as they are. For semantic segmentation, which
classifies at the level of pixels, it helps when input and output have equal spatial
dimensions: the channel dimension of each output pixel can then store the classification result
for the input pixel at the same spatial position.

For this we can use a different type of CNN layer, one that increases (upsamples) the spatial
dimensions of intermediate feature maps, in particular after CNN layers have reduced them. In
this section we introduce the **transposed convolution**, also known as the
*fractionally-strided convolution* [[Dumoulin and Visin, 2016]](#references), an operation that
runs in the opposite direction to the downsampling performed by convolutions.
""",
)

BASIC = _md(
    """
## 基本的な演算

まずはチャネルを無視し、ストライド 1、パディングなしの基本的な転置畳み込み演算から始めましょう。
$n_h \\times n_w$ の入力テンソルと $k_h \\times k_w$ のカーネルが与えられたとします。カーネル
ウィンドウをストライド 1 で各行に $n_w$ 回、各列に $n_h$ 回スライドさせると、合計 $n_h n_w$ 個の
中間結果が得られます。各中間結果は、ゼロで初期化された $(n_h + k_h - 1) \\times (n_w + k_w - 1)$
のテンソルです。各中間テンソルを計算するには、入力テンソルの要素 1 つにカーネルを掛け、得られた
$k_h \\times k_w$ のテンソルを中間テンソルの一部分に足し込みます（中間テンソルはゼロで
初期化されているので、その部分の値は積そのものになります）。各中間テンソルで値が足し込まれる
部分の位置は、計算に使った入力テンソルの要素の位置に対応することに注意してください。最後に、
すべての中間結果を足し合わせると出力が得られます。

例として、[図 1](#fig-trans-conv) に、$2\\times 2$ の入力テンソルに対する $2\\times 2$ の
カーネルによる転置畳み込みの計算を示します。
""",
    """
## Basic Operation

We start by ignoring channels and looking at the basic transposed convolution with a stride of
1 and no padding. Take an $n_h \\times n_w$ input tensor and a $k_h \\times k_w$ kernel. Sliding
the kernel window $n_w$ times in each row and $n_h$ times in each column with a stride of 1
yields $n_h n_w$ intermediate results altogether. Each of them is a zero-initialized tensor of
shape $(n_h + k_h - 1) \\times (n_w + k_w - 1)$. An intermediate tensor is computed by
multiplying a single element of the input tensor by the kernel and adding the resulting
$k_h \\times k_w$ tensor into one part of the intermediate tensor (as the tensor starts at zero,
that part ends up equal to the product). The position of that part within each intermediate
tensor matches the position, within the input tensor, of the element that was used. At the
end, adding up all the intermediate results gives the output.

As an example, [Figure 1](#fig-trans-conv) illustrates how a $2\\times 2$ kernel produces the
transposed convolution of a $2\\times 2$ input tensor.
""",
)

FIG1_CAPTION = _md(
    """
<a id="fig-trans-conv"></a>

**図 1:** $2\\times 2$ のカーネルによる転置畳み込み。入力の各要素と、その要素とカーネルの積が
書き込まれる中間テンソルの部分（太枠）を同じ色で示しています。図は次のセルがテンソルから描きます。
""",
    """
<a id="fig-trans-conv"></a>

**Figure 1:** Transposed convolution with a $2\\times 2$ kernel. Each input element has the same
colour as the part of its intermediate tensor (thick frame) into which its product with the
kernel is written. The next cell draws the figure from the tensors.
""",
)

TRANS_CONV_TEXT = _md(
    """
入力行列 `X` とカーネル行列 `K` に対するこの基本的な転置畳み込み演算は、関数 `trans_conv`
として実装できます。
""",
    """
For an input matrix `X` and a kernel matrix `K`, this basic transposed convolution can be
implemented as the function `trans_conv`.
""",
)

VERIFY_TEXT = _md(
    f"""
カーネルを通じて入力要素を*集約する*（1 つにまとめる）通常の畳み込み
（[「画像のための畳み込み」の節]({SEC_CONV_LAYER})）とは対照的に、転置畳み込みはカーネルを
通じて入力要素を*ブロードキャストする*（周りに広げる）ため、入力より大きな出力が得られます。
[図 1](#fig-trans-conv) の入力テンソル `X` とカーネルテンソル `K` を作り、上の基本的な 2 次元
転置畳み込みの実装の出力を確かめましょう。
""",
    f"""
A regular convolution ([section "Convolutions for Images"]({SEC_CONV_LAYER})) *aggregates*
input elements through the kernel, merging several of them into one. A transposed convolution
does the opposite: it *broadcasts* each input element through the kernel, spreading it out, so
its output is larger than its input. We construct the input tensor `X` and the kernel tensor
`K` of [Figure 1](#fig-trans-conv) and verify the output of the basic two-dimensional
transposed convolution implemented above.
""",
)

HIGH_LEVEL_TEXT = _md(
    """
あるいは、入力 `X` とカーネル `K` がどちらも 4 次元テンソルであれば、高水準 API
（`nn.ConvTranspose2d`）を使って同じ結果を得ることができます。

`trans_conv` を一般化した版（バッチ、複数チャネル、ストライド、パディングに対応）は
`d2l_tconv.trans_conv` にあり、このリポジトリのテストで、上のセルの `trans_conv` および
PyTorch の `F.conv_transpose2d` と照合しています。
""",
    """
If instead the input `X` and the kernel `K` are both four-dimensional tensors, the high-level
API (`nn.ConvTranspose2d`) gives the same result.

A generalized `trans_conv` (batches, multiple channels, strides, padding) is available as
`d2l_tconv.trans_conv`; this repository's tests compare it with the `trans_conv` cell above and
with PyTorch's `F.conv_transpose2d`.
""",
)

PADDING_TEXT = _md(
    """
## パディング、ストライド、複数のチャネル

入力にパディングを適用する通常の畳み込みとは異なり、転置畳み込みではパディングを出力に
適用します。たとえば、高さと幅の両側のパディング数を 1 に指定すると、転置畳み込みの出力から
最初と最後の行と列が取り除かれます。
""",
    """
## Padding, Strides, and Multiple Channels

In a regular convolution, padding is applied to the input; in a transposed convolution, it is
applied to the output. Setting the padding to 1 on both sides of the height and of the width,
for instance, removes the first and last rows and columns from the output of the transposed
convolution.
""",
)

STRIDE_TEXT = _md(
    """
転置畳み込みでは、ストライドは入力ではなく中間結果（つまり出力）に対して指定します。
[図 1](#fig-trans-conv) と同じ入力テンソルとカーネルテンソルを使ってストライドを 1 から 2 に
変えると、中間テンソルの高さと幅がどちらも大きくなり、その結果、出力テンソルは
[図 2](#fig-trans-conv-stride2) のようになります。
""",
    """
Strides in a transposed convolution are specified for the intermediate results, that is, for
the output, and not for the input. Keeping the input and kernel tensors of
[Figure 1](#fig-trans-conv) but changing the stride from 1 to 2 enlarges both the height and the
width of the intermediate tensors; as a result, the output tensor becomes the one shown in
[Figure 2](#fig-trans-conv-stride2).
""",
)

FIG2_CAPTION = _md(
    """
<a id="fig-trans-conv-stride2"></a>

**図 2:** $2\\times 2$ のカーネルによる、ストライド 2 の転置畳み込み。入力の要素 $(i, j)$ と
カーネルの積は、中間テンソルの行 $2i$、列 $2j$ から始まる部分（太枠）に書き込まれます。
""",
    """
<a id="fig-trans-conv-stride2"></a>

**Figure 2:** Transposed convolution with a $2\\times 2$ kernel at stride 2. The product of the
input element $(i, j)$ and the kernel is written into the part of the intermediate tensor that
starts at row $2i$ and column $2j$ (thick frame).
""",
)

STRIDE_CODE_TEXT = _md(
    """
次のコードで、[図 2](#fig-trans-conv-stride2) のストライド 2 の転置畳み込みの出力を確かめられます。
""",
    """
The code below verifies the output of the stride-2 transposed convolution in
[Figure 2](#fig-trans-conv-stride2).
""",
)

CHANNELS_TEXT = _md(
    """
入力チャネルと出力チャネルが複数ある場合も、転置畳み込みは通常の畳み込みと同じように働きます。
入力に $c_i$ 個のチャネルがあり、転置畳み込みが各入力チャネルに $k_h\\times k_w$ の
カーネルテンソルを 1 つずつ割り当てるとします。出力チャネルを複数指定した場合は、出力チャネル
ごとに $c_i\\times k_h\\times k_w$ のカーネルを持ちます。

まとめると、$\\mathsf{X}$ を畳み込み層 $f$ に入力して $\\mathsf{Y}=f(\\mathsf{X})$ を出力し、
出力チャネル数が $\\mathsf{X}$ のチャネル数であることを除いて $f$ と同じハイパーパラメータを
持つ転置畳み込み層 $g$ を作ると、$g(\\mathsf{Y})$ は $\\mathsf{X}$ と同じ形状になります。
次の例でこれを確かめます。
""",
    """
For multiple input and output channels, the transposed convolution behaves like the regular
convolution. Assume the input has $c_i$ channels and that the transposed convolution gives every
input channel its own $k_h\\times k_w$ kernel tensor. If several output channels are requested,
each output channel has a $c_i\\times k_h\\times k_w$ kernel.

To sum up: feed $\\mathsf{X}$ into a convolutional layer $f$, which outputs
$\\mathsf{Y}=f(\\mathsf{X})$, and build a transposed convolutional layer $g$ whose
hyperparameters equal those of $f$, except that its number of output channels equals the number
of channels of $\\mathsf{X}$. Then $g(\\mathsf{Y})$ has the same shape as $\\mathsf{X}$. The next
example confirms this.
""",
)

MATRIX_TEXT = _md(
    """
<a id="subsec-connection-to-mat-transposition"></a>

## 行列の転置との関係

転置畳み込みという名前は、行列の転置に由来します。これを説明するために、まず行列の乗算で
畳み込みを実装する方法を見てみましょう。次の例では、$3\\times 3$ の入力 `X` と $2\\times 2$ の
畳み込みカーネル `K` を定義し、関数 `corr2d` を使って畳み込みの出力 `Y` を計算します。
""",
    """
<a id="subsec-connection-to-mat-transposition"></a>

## Connection to Matrix Transposition

The transposed convolution takes its name from matrix transposition. To explain why, we first
see how a convolution can be implemented with matrix multiplication. The example below defines
a $3\\times 3$ input `X` and a $2\\times 2$ convolution kernel `K`, and uses the function
`corr2d` to compute the convolution output `Y`.
""",
)

KERNEL2MATRIX_TEXT = _md(
    """
次に、畳み込みカーネル `K` を、多くのゼロを含む疎な重み行列 `W` に書き直します。重み行列の
形状は $(4, 9)$ で、非ゼロの要素は畳み込みカーネル `K` の要素です。
""",
    """
Next, we rewrite the convolution kernel `K` as a sparse weight matrix `W` that contains many
zeros. The weight matrix has shape $(4, 9)$, and its nonzero entries are the entries of the
convolution kernel `K`.
""",
)

MATMUL_TEXT = _md(
    """
入力 `X` を行ごとに連結すると、長さ 9 のベクトルになります。`W` とこのベクトル化した `X` の
行列積は長さ 4 のベクトルになり、その形状を $2\\times 2$ に戻すと、上の元の畳み込み演算と同じ
結果 `Y` が得られます。こうして、行列の乗算で畳み込みを実装できました。
""",
    """
Concatenating the rows of the input `X` gives a vector of length 9. The matrix product of `W`
with this vectorized `X` is a vector of length 4, and reshaping it to $2\\times 2$ gives the same
result `Y` as the original convolution above. So we have implemented a convolution with matrix
multiplication.
""",
)

TRANSPOSE_TEXT = _md(
    """
同様に、転置畳み込みも行列の乗算で実装できます。次の例では、上の通常の畳み込みの
$2 \\times 2$ の出力 `Y` を、転置畳み込みへの入力とします。この演算を行列の乗算で実装するには、
重み行列 `W` を転置して形状 $(9, 4)$ にするだけで済みます。
""",
    """
In the same way, a transposed convolution can be implemented with matrix multiplication. In the
next example, the $2 \\times 2$ output `Y` of the regular convolution above serves as the input
of the transposed convolution. To carry out this operation as a matrix product, all we need is
to transpose the weight matrix `W`, which gives it the shape $(9, 4)$.
""",
)

BACKPROP_TEXT = _md(
    """
行列の乗算による畳み込みの実装について考えてみましょう。入力ベクトル $\\mathbf{x}$ と重み行列
$\\mathbf{W}$ が与えられたとき、畳み込みの順伝播関数は、入力に重み行列を掛けてベクトル
$\\mathbf{y}=\\mathbf{W}\\mathbf{x}$ を出力することで実装できます。逆伝播は連鎖律に従い、
$\\nabla_{\\mathbf{x}}\\mathbf{y}=\\mathbf{W}^\\top$ なので、畳み込みの逆伝播関数は、入力に転置した
重み行列 $\\mathbf{W}^\\top$ を掛けることで実装できます。したがって、転置畳み込み層は、畳み込み層の
順伝播関数と逆伝播関数を入れ替えるだけで実現できます。転置畳み込み層の順伝播関数と逆伝播関数は、
それぞれ入力ベクトルに $\\mathbf{W}^\\top$ と $\\mathbf{W}$ を掛けます。

`kernel2matrix` を一般化した版（任意の入力形状、ストライド、パディング、疎行列での出力）は
`d2l_tconv.kernel2matrix` にあります。
""",
    """
Let us think about implementing a convolution through matrix multiplication. With an input
vector $\\mathbf{x}$ and a weight matrix $\\mathbf{W}$, the forward propagation function of the
convolution can multiply its input by the weight matrix and output the vector
$\\mathbf{y}=\\mathbf{W}\\mathbf{x}$. Backpropagation follows the chain rule, and
$\\nabla_{\\mathbf{x}}\\mathbf{y}=\\mathbf{W}^\\top$, so the backpropagation function of the
convolution can be implemented by multiplying its input by the transposed weight matrix
$\\mathbf{W}^\\top$. A transposed convolutional layer can therefore be obtained just by swapping
the forward propagation and backpropagation functions of a convolutional layer: its forward
propagation function multiplies the input vector by $\\mathbf{W}^\\top$, and its backpropagation
function multiplies it by $\\mathbf{W}$.

A generalized `kernel2matrix` (any input shape, strides, padding, sparse output) is available
as `d2l_tconv.kernel2matrix`.
""",
)

SUMMARY = _md(
    """
## まとめ

- カーネルを通じて入力要素を集約する通常の畳み込みとは対照的に、転置畳み込みはカーネルを通じて
  入力要素をブロードキャストするため、入力より大きな出力が得られます。
- $\\mathsf{X}$ を畳み込み層 $f$ に入力して $\\mathsf{Y}=f(\\mathsf{X})$ を出力し、出力チャネル数が
  $\\mathsf{X}$ のチャネル数であることを除いて $f$ と同じハイパーパラメータを持つ転置畳み込み層
  $g$ を作ると、$g(\\mathsf{Y})$ は $\\mathsf{X}$ と同じ形状になります。
- 畳み込みは行列の乗算で実装できます。転置畳み込み層は、畳み込み層の順伝播関数と逆伝播関数を
  入れ替えるだけで実現できます。
""",
    """
## Summary

- A regular convolution aggregates input elements through the kernel; a transposed convolution
  broadcasts them through the kernel, so its output is larger than its input.
- If $\\mathsf{X}$ is fed into a convolutional layer $f$ that outputs
  $\\mathsf{Y}=f(\\mathsf{X})$, and a transposed convolutional layer $g$ is built with the same
  hyperparameters as $f$ except that its number of output channels is the number of channels
  of $\\mathsf{X}$, then $g(\\mathsf{Y})$ has the same shape as $\\mathsf{X}$.
- Convolutions can be implemented with matrix multiplication. A transposed convolutional layer
  is obtained just by swapping the forward propagation and backpropagation functions of a
  convolutional layer.
""",
)


def _exercises(lang: str) -> str:
    student_ja = colab_url("exercises/student/exercises_ja.ipynb")
    student_en = colab_url("exercises/student/exercises_en.ipynb")
    if lang == "ja":
        return f"""## 演習

1. [行列の転置との関係](#subsec-connection-to-mat-transposition) では、畳み込みの入力 `X` と
   転置畳み込みの出力 `Z` は同じ形状になります。両者は同じ値を持つでしょうか。それはなぜですか。
1. 畳み込みの実装に行列の乗算を使うのは効率的でしょうか。それはなぜですか。

解答例と、自分の解答を確かめられる演習ノートブックは `exercises/` にあります
（[演習の案内]({EXERCISES_README})）。Colab で演習ノートブックを開く:
[日本語]({student_ja}) ・ [English]({student_en})

[ディスカッション（英語）]({DISCUSSION})"""
    return f"""## Exercises

1. In [Connection to Matrix Transposition](#subsec-connection-to-mat-transposition), the
   convolution input `X` and the transposed convolution output `Z` have the same shape. Do they
   also have the same values? Why, or why not?
1. Is implementing convolutions with matrix multiplication efficient? Why, or why not?

Worked solutions, and exercise notebooks that check your own answers, are in `exercises/`
(see the [exercise guide]({EXERCISES_README})). Open the exercise notebook in Colab:
[English]({student_en}) · [日本語]({student_ja})

[Discussions]({DISCUSSION})"""


REFERENCES = _md(
    f"""
<a id="references"></a>

## 参考文献

- Dumoulin, V., & Visin, F. (2016). A guide to convolution arithmetic for deep learning.
  arXiv:1603.07285. [{ARXIV}]({ARXIV})
""",
    f"""
<a id="references"></a>

## References

- Dumoulin, V., & Visin, F. (2016). A guide to convolution arithmetic for deep learning.
  arXiv:1603.07285. [{ARXIV}]({ARXIV})
""",
)

# --- code cells ---------------------------------------------------------------------------

IMPORTS = """\
import torch
from torch import nn
from d2l import torch as d2l

import d2l_tconv

device = d2l.try_gpu()  # the first GPU if there is one, else the CPU"""

ENVIRONMENT = """\
# NBVAL_IGNORE_OUTPUT
# Versions differ from machine to machine, so nbval does not compare this output.
d2l_tconv.show_environment(device)"""

TRANS_CONV = """\
def trans_conv(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] + h - 1, X.shape[1] + w - 1), device=X.device)
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Y[i: i + h, j: j + w] += X[i, j] * K
    return Y"""

TRANS_CONV_CHECK = """\
X = torch.tensor([[0.0, 1.0], [2.0, 3.0]], device=device)
K = torch.tensor([[0.0, 1.0], [2.0, 3.0]], device=device)
trans_conv(X, K)"""

HIGH_LEVEL = """\
X, K = X.reshape(1, 1, 2, 2), K.reshape(1, 1, 2, 2)
tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, bias=False).to(device)
tconv.weight.data = K
tconv(X)"""

PADDING = """\
tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, padding=1, bias=False).to(device)
tconv.weight.data = K
tconv(X)"""

STRIDE = """\
tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, stride=2, bias=False).to(device)
tconv.weight.data = K
tconv(X)"""

SHAPES = """\
_ = torch.manual_seed(0)  # fixed random input and weights: the same output on every run
X = torch.rand(size=(1, 10, 16, 16), device=device)
conv = nn.Conv2d(10, 20, kernel_size=5, padding=2, stride=3).to(device)
tconv = nn.ConvTranspose2d(20, 10, kernel_size=5, padding=2, stride=3).to(device)
tconv(conv(X)).shape == X.shape"""

CORR2D = """\
X = torch.arange(9.0, device=device).reshape(3, 3)
K = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
Y = d2l.corr2d(X, K).to(device)  # d2l.corr2d builds its output on the CPU
Y"""

KERNEL2MATRIX = """\
def kernel2matrix(K):
    k, W = torch.zeros(5, device=K.device), torch.zeros((4, 9), device=K.device)
    k[:2], k[3:5] = K[0, :], K[1, :]
    W[0, :5], W[1, 1:6], W[2, 3:8], W[3, 4:] = k, k, k, k
    return W

W = kernel2matrix(K)
W"""

MATMUL = """\
Y == torch.matmul(W, X.reshape(-1)).reshape(2, 2)"""

TRANSPOSE = """\
Z = trans_conv(Y, K)
Z == torch.matmul(W.T, Y.reshape(-1)).reshape(3, 3)"""


# (id, kind, source). Ids are stable: the build derives nothing from positions, so adding a
# cell does not renumber the others. "inNN-..." marks the seed's code cell In [NN].
CELLS: list[tuple[str, str, object]] = [
    ("title", "markdown", _title),
    ("setup-text", "markdown", SETUP_TEXT),
    ("setup", "code", colab_setup_source),
    ("in01-imports", "code", IMPORTS),
    ("environment", "code", ENVIRONMENT),
    ("intro", "markdown", INTRO),
    ("basic-operation", "markdown", BASIC),
    ("fig-trans-conv-caption", "markdown", FIG1_CAPTION),
    ("fig-trans-conv", "code", _figure_cell(1)),
    ("trans-conv-text", "markdown", TRANS_CONV_TEXT),
    ("in02-trans-conv", "code", TRANS_CONV),
    ("verify-text", "markdown", VERIFY_TEXT),
    ("in03-trans-conv-check", "code", TRANS_CONV_CHECK),
    ("high-level-text", "markdown", HIGH_LEVEL_TEXT),
    ("in04-high-level-api", "code", HIGH_LEVEL),
    ("padding-text", "markdown", PADDING_TEXT),
    ("in05-padding", "code", PADDING),
    ("stride-text", "markdown", STRIDE_TEXT),
    ("fig-trans-conv-stride2-caption", "markdown", FIG2_CAPTION),
    ("fig-trans-conv-stride2", "code", _figure_cell(2)),
    ("stride-code-text", "markdown", STRIDE_CODE_TEXT),
    ("in06-stride", "code", STRIDE),
    ("channels-text", "markdown", CHANNELS_TEXT),
    ("in07-shapes", "code", SHAPES),
    ("matrix-text", "markdown", MATRIX_TEXT),
    ("in08-corr2d", "code", CORR2D),
    ("kernel2matrix-text", "markdown", KERNEL2MATRIX_TEXT),
    ("in09-kernel2matrix", "code", KERNEL2MATRIX),
    ("matmul-text", "markdown", MATMUL_TEXT),
    ("in10-matmul", "code", MATMUL),
    ("transpose-text", "markdown", TRANSPOSE_TEXT),
    ("in11-transpose", "code", TRANSPOSE),
    ("backprop-text", "markdown", BACKPROP_TEXT),
    ("summary", "markdown", SUMMARY),
    ("exercises", "markdown", _exercises),
    ("references", "markdown", REFERENCES),
]


_LIST_ITEM = re.compile(r"\s{0,3}(?:[-*]|\d+\.)\s")
_JA_PUNCT = set("。、，．・：；？！（）「」『』【】〔〕…")


def unwrap_japanese(text: str) -> str:
    """Join the lines of each paragraph and list item of Japanese markdown.

    Markdown renders a line break inside a paragraph as a space, which in Japanese shows
    up between two characters (「カーネル ウィンドウ」). So the source above is wrapped for
    reading, and the notebook gets one line per paragraph: lines are joined with nothing
    between two non-ASCII characters and with one space elsewhere (next to ASCII words,
    code spans and formulas, which the text keeps apart from Japanese with spaces), and
    with nothing next to Japanese punctuation (「。」「（」 …).
    Headings, HTML lines and list-item starts stay on lines of their own.
    """
    blocks = []
    for block in text.split("\n\n"):
        merged: list[str] = []
        for line in block.split("\n"):
            starts_new = _LIST_ITEM.match(line) or line.startswith(("#", "<"))
            if merged and not starts_new and not merged[-1].startswith(("#", "<")):
                prev, cur = merged[-1].rstrip(), line.strip()
                tight = (ord(prev[-1]) > 127 and ord(cur[0]) > 127) or (
                    prev[-1] in _JA_PUNCT or cur[0] in _JA_PUNCT
                )
                merged[-1] = prev + ("" if tight else " ") + cur
            else:
                merged.append(line)
        blocks.append("\n".join(merged))
    return "\n\n".join(blocks)


def cell_source(source: object, lang: str, kind: str = "code") -> str:
    """The text of one cell in language ``lang`` (Japanese markdown is unwrapped)."""
    if isinstance(source, str):
        text = source
    elif isinstance(source, dict):
        text = source[lang]
    elif callable(source):
        text = source(lang)
    else:
        raise TypeError(f"unexpected cell source {source!r}")
    if kind == "markdown" and lang == "ja":
        text = unwrap_japanese(text)
    return text
