#!/usr/bin/env node
// Validate glTF/GLB files with Khronos' glTF-Validator (npm `gltf-validator`, pinned in package.json).
// Usage: node tools/gltf_validator/validate.js FILE [FILE ...]
// Prints one JSON report per file (the validator's own report) as a JSON array on stdout;
// exits 1 when any file has errors, 2 on bad usage or when a file cannot be read or parsed.
"use strict";
const fs = require("fs");
const path = require("path");

let validator;
try {
  validator = require("gltf-validator");
} catch (e) {
  console.error("gltf-validator is not installed: run `npm ci` in " + __dirname + " (make install-dev does)");
  process.exit(2);
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node validate.js FILE [FILE ...]");
    return 2;
  }
  const reports = [];
  let errors = 0;
  for (const file of files) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const report = await validator.validateBytes(bytes, { uri: path.basename(file), maxIssues: 100 });
    report.file = file;
    errors += report.issues.numErrors;
    reports.push(report);
  }
  console.log(JSON.stringify(reports, null, 1));
  return errors > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(String(err));
  process.exit(2);
});
