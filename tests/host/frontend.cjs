// Drives ComfyUI's real frontend in headless Chromium (playwright-core) for test_frontend.py.
//
// Usage: node frontend.cjs PLAN.json; prints one JSON report on its last line.
// PLAN: {url, chromium, outDir, workflows: [{name, path}], queue: {name, widgets: {type: {name: value}}}}
// For each UI workflow: open the page, load the workflow as a user's file would load, record the
// dialogs shown, nodes the frontend does not know, console errors and failed requests, and save a
// screenshot, and the texts nodes show. The workflow named in `queue` gets its widgets set, is queued with the Run button and
// is waited for. Last, the template browser is opened on the pack's templates.
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const TIMEOUT = 120000;

async function openPage(browser, problems) {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.console.push({ text: m.text(), url: m.location().url || '' });
  });
  page.on('pageerror', (e) => problems.console.push({ text: `uncaught: ${e}`, url: '' }));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.failed.push({ status: r.status(), url: r.url() });
  });
  // Text a node shows while it runs: binary websocket event 3 = [type][id length][id][text].
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    if (typeof payload === 'string') return;
    const b = Buffer.from(payload);
    if (b.length < 8 || b.readUInt32BE(0) !== 3) return;
    const n = b.readUInt32BE(4);
    problems.texts.push({ node: b.subarray(8, 8 + n).toString(), text: b.subarray(8 + n).toString() });
  }));
  await page.goto(plan.url);
  await page.waitForFunction(
    () => window.app && window.app.graph && window.LiteGraph &&
      Object.keys(window.LiteGraph.registered_node_types).some((t) => t.startsWith('QAGAN')),
    null, { timeout: TIMEOUT });
  return page;
}

async function visibleDialogs(page) {
  return (await page.locator('.p-dialog:visible').allInnerTexts()).map((t) => t.slice(0, 500));
}

async function queueFromUi(page, widgets) {
  const unknown = await page.evaluate((widgets) => {
    const missing = [];
    for (const node of window.app.graph.nodes) {
      for (const [name, value] of Object.entries(widgets[node.type] || {})) {
        const widget = (node.widgets || []).find((w) => w.name === name);
        if (widget) widget.value = value; else missing.push(`${node.type}.${name}`);
      }
    }
    return missing;
  }, widgets);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/prompt') && r.request().method() === 'POST',
      { timeout: 30000 }),
    page.getByTestId('queue-button').click(),
  ]);
  const reply = await response.json();
  const deadline = Date.now() + 300000;
  let status = null;
  while (Date.now() < deadline && reply.prompt_id) {
    const history = await (await page.request.get(`${plan.url}/api/history/${reply.prompt_id}`)).json();
    const entry = history[reply.prompt_id];
    if (entry && entry.status && entry.status.completed !== undefined) { status = entry.status.status_str; break; }
    await page.waitForTimeout(500);
  }
  await page.waitForTimeout(1000); // let the previews arrive over the websocket
  return { reply, status, unknownWidgets: unknown };
}

(async () => {
  const browser = await chromium.launch({ executablePath: plan.chromium, args: ['--no-sandbox'] });
  const report = { workflows: [], templates: null };
  try {
    for (const { name, path: file } of plan.workflows) {
      const problems = { console: [], failed: [], texts: [] };
      const page = await openPage(browser, problems);
      const result = { name, dialogsBefore: await visibleDialogs(page) };
      const workflow = JSON.parse(fs.readFileSync(file, 'utf8'));
      await page.evaluate(async ([wf, n]) => { await window.app.loadGraphData(wf, true, true, n); },
        [workflow, name]);
      await page.waitForTimeout(1500);
      result.dialogs = await visibleDialogs(page);
      Object.assign(result, await page.evaluate(() => ({
        nodes: window.app.graph.nodes.length,
        unknownNodes: window.app.graph.nodes
          .filter((n) => n.has_errors || !window.LiteGraph.registered_node_types[n.type])
          .map((n) => n.type),
      })));
      result.screenshot = path.join(plan.outDir, `${name}.png`);
      await page.screenshot({ path: result.screenshot });
      if (plan.queue && plan.queue.name === name) {
        result.queued = await queueFromUi(page, plan.queue.widgets);
        result.queuedScreenshot = path.join(plan.outDir, `${name}_queued.png`);
        await page.screenshot({ path: result.queuedScreenshot });
      }
      Object.assign(result, problems);
      report.workflows.push(result);
      await page.close();
    }
    const problems = { console: [], failed: [], texts: [] };
    const page = await openPage(browser, problems);
    await page.evaluate(() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates'));
    await page.getByText(plan.templatesCategory, { exact: true }).first().click({ timeout: 30000 });
    await page.waitForTimeout(2000);
    const screenshot = path.join(plan.outDir, 'templates.png');
    await page.screenshot({ path: screenshot });
    report.templates = { dialogs: await visibleDialogs(page), screenshot, ...problems };
    await page.close();
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
})().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
