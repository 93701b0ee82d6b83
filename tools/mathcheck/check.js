#!/usr/bin/env node
// Render TeX formulas with KaTeX (what Colab uses) and MathJax 3 (what JupyterLab 4 uses)
// and report every error.
//
// stdin:  JSON list of {"id": str, "tex": str, "display": bool}
// stdout: JSON {"checked": n, "katex": "<version>", "mathjax": "<version>",
//               "errors": [{"id", "engine", "tex", "message"}]}
// exit:   0 when every formula renders in both engines, 1 when any fails, 2 on bad input.
"use strict";

const katex = require("katex");
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
require("mathjax-full/js/input/tex/base/BaseConfiguration.js");
require("mathjax-full/js/input/tex/ams/AmsConfiguration.js");
require("mathjax-full/js/input/tex/newcommand/NewcommandConfiguration.js");
require("mathjax-full/js/input/tex/boldsymbol/BoldsymbolConfiguration.js");

// JupyterLab loads more packages, among them `noundefined`, which draws an unknown macro
// in red instead of failing; it is left out here so that an unknown macro is an error.
const texInput = new TeX({
  packages: ["base", "ams", "newcommand", "boldsymbol"],
  formatError: (_jax, err) => {
    throw err;
  },
});
RegisterHTMLHandler(liteAdaptor());
const mjDocument = mathjax.document("", { InputJax: texInput });

function findMerror(node) {
  if (!node) return null;
  if (node.kind === "merror") return node;
  for (const child of node.childNodes || []) {
    const found = findMerror(child);
    if (found) return found;
  }
  return null;
}

function checkKatex(tex, display) {
  katex.renderToString(tex, { throwOnError: true, displayMode: display, strict: "error" });
}

function checkMathjax(tex, display) {
  const root = mjDocument.convert(tex, { display, end: /* STATE.CONVERT */ 100 });
  const merror = findMerror(root);
  if (merror) throw new Error(`merror node: ${merror.attributes.get("data-mjx-error") || "?"}`);
}

function main(input) {
  let items;
  try {
    items = JSON.parse(input);
    if (!Array.isArray(items)) throw new Error("expected a JSON list");
  } catch (err) {
    process.stderr.write(`mathcheck: bad input: ${err.message}\n`);
    process.exit(2);
  }
  const errors = [];
  for (const { id, tex, display } of items) {
    for (const [engine, check] of [["katex", checkKatex], ["mathjax", checkMathjax]]) {
      try {
        check(tex, Boolean(display));
      } catch (err) {
        errors.push({ id, engine, tex, message: String(err && err.message ? err.message : err) });
      }
    }
  }
  const result = {
    checked: items.length,
    katex: katex.version,
    mathjax: mathjax.version,
    errors,
  };
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(errors.length ? 1 : 0);
}

let data = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (data += chunk));
process.stdin.on("end", () => main(data));
