#!/usr/bin/env node
// Rewrite README.md's settings table from SETTINGS (src/helpers/config/settings.ts); test/helpers/config checks they agree.
//   npm run build && node tools/settings_table.cjs
const fs = require("node:fs");
const path = require("node:path");
const { settingsTableMarkdown } = require("../src/helpers/dist/config/settings.js");
const readme = path.join(__dirname, "..", "README.md");
const text = fs.readFileSync(readme, "utf8");
const re = /(<!-- settings-table[^>]*-->\n)[\s\S]*?(\n<!-- \/settings-table -->)/;
if (!re.test(text)) throw new Error("README.md lacks the <!-- settings-table --> markers");
fs.writeFileSync(readme, text.replace(re, (_, open, close) => open + settingsTableMarkdown() + close));
console.log("README.md: settings table regenerated");
