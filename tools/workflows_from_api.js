#!/usr/bin/env node
// Regenerate the UI-format workflows (workflows/<name>.json) from the API files
// (workflows/<name>.api.json) with ComfyUI's own web frontend, and screenshot each
// one as a user sees it after dropping the UI file into ComfyUI (docs/workflows/<name>.png).
//
// Needs a running ComfyUI with this pack installed (and the example input folders /
// models so combo values exist), playwright-core and a Chromium:
//   NODE_PATH=/path/to/node_modules CHROMIUM=/usr/bin/chromium \
//     node tools/workflows_from_api.js http://127.0.0.1:8188 [name ...]
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

async function closeDialogs(page) {
  for (let i = 0; i < 3; i++) {
    await page.keyboard.press('Escape');
    await page.waitForTimeout(200);
  }
}

// Columns by link depth (sources left), nodes stacked in each column.
function layoutScript() {
  const g = window.app.graph;
  const nodes = g._nodes;
  const depth = new Map();
  const d = (n) => {
    if (depth.has(n.id)) return depth.get(n.id);
    depth.set(n.id, 0);
    let best = 0;
    for (const input of n.inputs || []) {
      if (input.link == null) continue;
      const link = g.links instanceof Map ? g.links.get(input.link) : g.links[input.link];
      if (link) best = Math.max(best, d(g.getNodeById(link.origin_id)) + 1);
    }
    depth.set(n.id, best);
    return best;
  };
  nodes.forEach(d);
  const y = {};
  const widths = {};
  nodes.forEach((n) => { const c = depth.get(n.id); widths[c] = Math.max(widths[c] || 0, n.size[0]); });
  const x = {}; let acc = 40;
  Object.keys(widths).sort((a, b) => a - b).forEach((c) => { x[c] = acc; acc += widths[c] + 80; });
  [...nodes].sort((a, b) => a.id - b.id).forEach((n) => {
    const c = depth.get(n.id);
    n.pos = [x[c], (y[c] || 40)];
    y[c] = (y[c] || 40) + n.size[1] + 80;
  });
  // Fit the whole graph in the 1600x1000 view (stored in the workflow's extra.ds).
  const right = Math.max(...nodes.map((n) => n.pos[0] + n.size[0]));
  const bottom = Math.max(...nodes.map((n) => n.pos[1] + n.size[1]));
  const scale = Math.min(1, 1350 / right, 820 / bottom);
  const ds = window.app.canvas.ds;
  ds.scale = scale;
  ds.offset = [110 / scale, 110 / scale];
  g.setDirtyCanvas(true, true);
}

async function main() {
  const [url, ...names] = process.argv.slice(2);
  const wanted = names.length ? names
    : fs.readdirSync(path.join(ROOT, 'workflows')).filter((f) => f.endsWith('.api.json')).map((f) => f.replace('.api.json', ''));
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS });
  try {
    for (const name of wanted) {
      const api = JSON.parse(fs.readFileSync(path.join(ROOT, 'workflows', `${name}.api.json`), 'utf8'));
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60000 });
      await page.waitForFunction(() => !!(window.app && window.app.graph && window.app.canvas), null, { timeout: 60000 });
      await page.waitForTimeout(1000);
      await closeDialogs(page);
      await page.evaluate(async (wf) => { await window.app.loadApiJson(wf, 'workflow.json'); }, api);
      await page.waitForTimeout(500);
      await page.evaluate(layoutScript);
      const ui = await page.evaluate(() => window.app.graph.serialize());
      fs.writeFileSync(path.join(ROOT, 'workflows', `${name}.json`), JSON.stringify(ui, null, 2) + '\n');
      // Show it as a user sees it after dropping the UI file in.
      await page.evaluate(async (wf) => { await window.app.loadGraphData(wf); }, ui);
      await page.waitForTimeout(1500);
      await closeDialogs(page);
      await page.screenshot({ path: path.join(ROOT, 'docs', 'workflows', `${name}.png`) });
      console.log(`${name}: ${ui.nodes.length} nodes, ${ui.links.length} links`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
