// Copy the front-end packages installed by `npm ci` into static/vendor/ (git-ignored), where
// Django's staticfiles finds them. USWDS keeps its dist layout because its CSS refers to
// ../fonts and ../img relative to itself.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const vendor = join(root, "static", "vendor");

const copies = [
  ["@uswds/uswds/dist/css", "uswds/css"],
  ["@uswds/uswds/dist/js", "uswds/js"],
  ["@uswds/uswds/dist/fonts", "uswds/fonts"],
  ["@uswds/uswds/dist/img", "uswds/img"],
  ["htmx.org/dist/htmx.min.js", "htmx/htmx.min.js"],
];

rmSync(vendor, { recursive: true, force: true });
for (const [from, to] of copies) {
  const source = join(modules, from);
  if (!existsSync(source)) {
    console.error(`build_assets: ${source} is missing; run "npm ci" first.`);
    process.exit(1);
  }
  const target = join(vendor, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(source, target, { recursive: true });
}
console.log(`build_assets: copied ${copies.length} items into ${vendor}`);
