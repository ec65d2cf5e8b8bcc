// Drives a running JupyterLab in Debian's chromium for tests/test_browser.py.
//
//   node lab_driver.mjs --url URL --token T --out DIR [--timeout S] [--answers FILE]
//                       SCENARIO:NOTEBOOK:NAME ...
//
// SCENARIO is `run-all` (Run > Run All Cells, then read every cell's outputs), `playground`
// (run the notebook, then type a template and a conversation into the template playground) or
// `answer` (run the notebook, then answer one exercise wrong and then right, as FILE says:
// {"exercise": id, "wrong": source, "right": source}).
// Each scenario writes DIR/NAME.png (DIR/NAME-failed.png when it could not finish) and
// DIR/NAME.json: what the notebook model holds after the run (execution counts, output types,
// errors, each cell's `course` metadata), for the playground what its output area showed
// before and after typing, and for `answer` the check cell's outputs after each answer, with
// DIR/NAME-wrong.png and DIR/NAME-right.png showing the exercise's cells. The
// Python test decides pass or fail from those files. Scenarios share one browser and one
// JupyterLab page (a page load costs several seconds on 2 cores), and each notebook's kernel is
// shut down before the next notebook opens. A scenario that fails is recorded and the next one
// starts from a freshly loaded page.
//
// Why the waits look the way they do: a cell's [*] prompt, and even the kernel status on its
// own, flicker between cells of a Run All (the kernel goes idle between two execute
// requests), so "done" here means: the kernel status was seen to go busy after our action,
// and has read Idle continuously for SETTLE_MS since. The status comes from the notebook's
// session context (the same signal the status bar renders), recorded in the page by a
// listener installed before the action, so a busy phase too short to paint is not missed.
// The status bar is then also required to read "Idle", which is what a learner sees.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SETTLE_MS = 1500;
// Flags that keep Debian's chromium quiet on a machine with a closed network: without the
// background-networking ones it keeps trying to reach Google's hosts.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function parseArgs(argv) {
  const opts = { timeout: 120, scenarios: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) {
      opts[argv[i].slice(2)] = argv[++i];
    } else {
      const [kind, notebook, name] = argv[i].split(':');
      if (!kind || !notebook || !name) throw new Error(`not SCENARIO:NOTEBOOK:NAME: ${argv[i]}`);
      opts.scenarios.push({ kind, notebook, name });
    }
  }
  opts.timeout = Number(opts.timeout) * 1000;
  for (const key of ['url', 'token', 'out']) {
    if (!opts[key]) throw new Error(`missing --${key}`);
  }
  return opts;
}

// --- the notebook, seen through the app that --LabApp.expose_app_in_browser puts on window ---

async function loadLab(page, opts, notebook) {
  // A workspace of its own, reset, so that no layout saved by an earlier run (open tabs,
  // panels) leaks into this one.
  const workspace = `course-test-${Date.now()}`;
  await page.goto(`${opts.url}/lab/workspaces/${workspace}/tree/${notebook}?reset&token=${opts.token}`,
                  { timeout: opts.timeout });
}

async function openNotebook(page, opts, notebook, freshPage) {
  const t0 = Date.now();
  if (freshPage) {
    await loadLab(page, opts, notebook);
  } else {
    // The page is already JupyterLab: close the last notebook (its kernel too, so it does not
    // compete for the 2 cores) and open the next one as a learner would from the file browser.
    // Opened first, closed second: an empty main area would fill with a Launcher tab. When
    // the next notebook is the one open, it is read again from disk (the copy the run never
    // saved to) in a restarted kernel: a fresh start in the same tab.
    await page.evaluate(async (nb) => {
      const app = window.jupyterapp;
      const last = app.shell.currentWidget;
      if (last?.context?.path === nb && last.sessionContext) {
        await last.context.revert();
        await last.sessionContext.restartKernel();
        return;
      }
      await app.commands.execute('docmanager:open', { path: nb });
      if (last?.sessionContext) {
        await last.sessionContext.shutdown();
        last.context.model.dirty = false;  // no "save changes?" dialog: this copy is throwaway
        last.close();
      }
    }, notebook);
  }
  await page.waitForFunction((nb) => {
    const w = window.jupyterapp?.shell?.currentWidget;
    return w && w.context?.path === nb && w.sessionContext && w.content?.model;
  }, notebook, { timeout: opts.timeout });
  // A clean view for the screenshots: no file browser beside the notebook.
  await page.evaluate(() => window.jupyterapp.shell.collapseLeft());
  await waitForStatusBarIdle(page, opts.timeout);
  return (Date.now() - t0) / 1000;
}

async function waitForStatusBarIdle(page, timeout) {
  // "Python 3 (ipykernel) | Idle": the kernel is started and ready for input.
  await page.waitForFunction(
    () => /\|\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText ?? ''),
    null, { timeout, polling: 100 });
}

async function recordKernelStatus(page) {
  await page.evaluate(() => {
    const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
    window.__statusLog = [{ status: ctx.kernelDisplayStatus, t: performance.now() }];
    if (!ctx.__courseStatusHooked) {
      ctx.statusChanged.connect((_, status) => {
        window.__statusLog.push({ status, t: performance.now() });
      });
      ctx.__courseStatusHooked = true;
    }
  });
}

async function waitForKernelSettled(page, timeout) {
  // Busy seen since recordKernelStatus(), then Idle for SETTLE_MS without a break.
  await page.waitForFunction((settle) => {
    const log = window.__statusLog;
    const sawBusy = log.some((e) => e.status === 'busy');
    const last = log[log.length - 1];
    return sawBusy && last.status === 'idle' && performance.now() - last.t >= settle;
  }, SETTLE_MS, { timeout, polling: 200 });
  await waitForStatusBarIdle(page, timeout);
}

async function runAllFromMenu(page, timeout) {
  await recordKernelStatus(page);
  // Through the menu bar, as a learner would: Run > Run All Cells.
  await page.locator('.lm-MenuBar-item', { hasText: /^Run$/ }).click();
  await page.locator('.lm-Menu-item', { hasText: 'Run All Cells' }).first().click();
  await waitForKernelSettled(page, timeout);
}

async function notebookState(page) {
  return page.evaluate(() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    const out = [];
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i).toJSON();
      if (cell.cell_type !== 'code') continue;
      const course = cell.metadata?.course;
      out.push({
        index: i,
        source_head: [].concat(cell.source).join('').slice(0, 80),
        // Exercise cells are known by their metadata, never by position.
        course: course ? { role: course.role ?? null, id: course.id ?? null } : null,
        execution_count: cell.execution_count,
        outputs: (cell.outputs ?? []).map((o) => ({
          output_type: o.output_type,
          name: o.name,
          ename: o.ename,
          evalue: o.evalue,
          text: o.output_type === 'stream' ? [].concat(o.text).join('').slice(0, 2000) : undefined,
          mime_types: o.data ? Object.keys(o.data) : undefined,
        })),
      });
    }
    return {
      kernel: panel.sessionContext.kernelDisplayName,
      status_bar: document.querySelector('#jp-main-statusbar')?.innerText ?? '',
      busy_phases: (window.__statusLog ?? []).filter((e) => e.status === 'busy').length,
      last_status: window.__statusLog?.at(-1)?.status ?? null,
      code_cells: out,
    };
  });
}

// --- scenarios -----------------------------------------------------------------------------

async function runAll(page, opts, sc, result) {
  const t0 = Date.now();
  await runAllFromMenu(page, opts.timeout);
  result.run_seconds = (Date.now() - t0) / 1000;
  Object.assign(result, await notebookState(page));
  // Show the first error if there is one (that is what whoever reads a failed run wants to
  // see), else the top of the notebook.
  const firstError = result.code_cells.find((c) => c.outputs.some((o) => o.output_type === 'error'));
  await page.evaluate(async (index) => {
    await window.jupyterapp.shell.currentWidget.content.scrollToItem(index, 'start');
  }, firstError ? firstError.index : 0);
  await page.waitForTimeout(300);  // let the windowed notebook paint the cells scrolled to
}

const PLAYGROUND_TEMPLATE =
  "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
// Words no default conversation contains, so seeing them proves the output was re-rendered
// from what was typed here. Fixed, so the README's screenshot reads well.
const PLAYGROUND_WORD = 'typed in the browser test';

async function playground(page, opts, sc, result) {
  let t0 = Date.now();
  await runAllFromMenu(page, opts.timeout);
  result.run_seconds = (Date.now() - t0) / 1000;
  const template = page.locator('.course-playground-template textarea');
  const messages = page.locator('.course-playground-messages textarea');
  const output = page.locator('.course-playground-output');
  await template.waitFor({ timeout: opts.timeout });
  await messages.waitFor({ timeout: opts.timeout });
  await output.waitFor({ timeout: opts.timeout });
  result.output_before = await output.innerText();

  // Type into the widgets with the keyboard, then leave the field: ipywidgets sends the new
  // value to the kernel on input (continuous_update) or on change (blur), and either way the
  // kernel re-renders and sends the output back.
  t0 = Date.now();
  await recordKernelStatus(page);
  await template.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  // Real key presses ("\n" is pressed as Enter), so the widget sees what a learner's typing
  // produces, half-typed templates included.
  await template.pressSequentially(PLAYGROUND_TEMPLATE);
  await template.press('Tab');

  const messagesJson = JSON.stringify(
    [{ role: 'user', content: `Hello, ${PLAYGROUND_WORD}!` }], null, 1);
  await messages.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await messages.pressSequentially(messagesJson);
  await messages.press('Tab');

  await waitForKernelSettled(page, opts.timeout);
  await page.waitForFunction((word) => {
    const el = document.querySelector('.course-playground-output');
    return el && el.innerText.includes(word);
  }, PLAYGROUND_WORD, { timeout: 20000 }).catch(() => {});  // the test reports what it saw

  result.typing_seconds = (Date.now() - t0) / 1000;
  result.word = PLAYGROUND_WORD;
  result.template_value = await template.inputValue();
  result.output_after = await output.innerText();
  result.output_html = (await output.innerHTML()).slice(0, 20000);
  // Highlighting: a special token is its own element, drawn differently from the plain text
  // around it (a background, a colour or a weight of its own).
  result.highlighted_tokens = await output.evaluate((box) => {
    const base = getComputedStyle(box);
    const transparent = (c) => c === 'rgba(0, 0, 0, 0)' || c === 'transparent';
    return Array.from(box.querySelectorAll('*'))
      .filter((n) => n.children.length === 0 && /^<\|[a-z_]+\|>$/.test(n.textContent.trim()))
      .map((n) => {
        const st = getComputedStyle(n);
        return {
          text: n.textContent.trim(), tag: n.tagName.toLowerCase(), cls: String(n.className),
          background: st.backgroundColor, color: st.color, weight: st.fontWeight,
          distinct: (!transparent(st.backgroundColor) && st.backgroundColor !== base.backgroundColor)
            || st.color !== base.color || st.fontWeight !== base.fontWeight,
        };
      });
  });
  Object.assign(result, await notebookState(page));
  await output.scrollIntoViewIfNeeded();
}

// --- answering an exercise ------------------------------------------------------------------

async function exerciseCellIndex(page, exercise, role) {
  const index = await page.evaluate(([id, r]) => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const course = cells.get(i).toJSON().metadata?.course;
      if (course?.id === id && course?.role === r) return i;
    }
    return -1;
  }, [exercise, role]);
  if (index < 0) throw new Error(`no ${role} cell for exercise ${exercise}`);
  return index;
}

async function cellSource(page, index) {
  return page.evaluate((i) =>
    window.jupyterapp.shell.currentWidget.content.model.cells.get(i).sharedModel.getSource(),
  index);
}

async function showCell(page, index, align) {
  // The notebook is windowed: a cell far down may not be laid out until it is scrolled to.
  await page.evaluate(async ([i, a]) => {
    await window.jupyterapp.shell.currentWidget.content.scrollToItem(i, a);
  }, [index, align]);
  await page.waitForTimeout(300);  // let the windowed notebook paint the cells scrolled to
}

async function cellLocator(page, index) {
  // The cell's own widget node, marked so that playwright can click and measure it.
  await page.evaluate((i) => {
    const node = window.jupyterapp.shell.currentWidget.content.widgets[i].node;
    node.dataset.courseTestCell = String(i);
  }, index);
  return page.locator(`[data-course-test-cell="${index}"]`);
}

async function replaceCellText(page, index, text) {
  // As a learner does: click into the cell's editor, select all, paste. Pasted, not typed: typing
  // a template line by line makes the editor auto-indent each new line like the one above, so
  // the cell would hold a different template from the one meant (and a whitespace-sensitive
  // exercise would fail for the wrong reason). A paste inserts the text as it is.
  await showCell(page, index, 'start');
  await (await cellLocator(page, index)).locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await page.keyboard.press('Control+V');
}

async function runAnswerAndCheck(page, opts) {
  // Shift+Enter runs the answer cell and moves to the next cell, its check; Shift+Enter again
  // runs the check.
  await recordKernelStatus(page);
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.press('Shift+Enter');
  await waitForKernelSettled(page, opts.timeout);
}

async function screenshotExercise(page, answerIndex, checkIndex, file) {
  // The answer cell and its check with the feedback, cut from the page: the answer's top is
  // scrolled to the top of the notebook, or, when the pair is taller than the notebook's view,
  // the check's bottom to its bottom, so the feedback is always in the picture.
  const box = () => page.evaluate(([first, last]) => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const view = notebook.node.getBoundingClientRect();
    const top = notebook.widgets[first].node.getBoundingClientRect();
    const bottom = notebook.widgets[last].node.getBoundingClientRect();
    const y0 = Math.max(top.top, view.top);
    const y1 = Math.min(bottom.bottom, view.bottom);
    return { fits: top.top >= view.top && bottom.bottom <= view.bottom,
             clip: { x: view.left, y: y0, width: view.width, height: y1 - y0 } };
  }, [answerIndex, checkIndex]);
  await showCell(page, answerIndex, 'start');
  let shot = await box();
  if (!shot.fits) {
    await showCell(page, checkIndex, 'end');
    shot = await box();
  }
  await page.screenshot({ path: file, clip: shot.clip });
}

async function answer(page, opts, sc, result) {
  const spec = JSON.parse(fs.readFileSync(opts.answers, 'utf8'));
  // The paste goes through the browser's clipboard, which a page may write only when allowed.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'],
                                        { origin: opts.url });
  let t0 = Date.now();
  await runAllFromMenu(page, opts.timeout);
  result.run_seconds = (Date.now() - t0) / 1000;
  const answerIndex = await exerciseCellIndex(page, spec.exercise, 'answer');
  const checkIndex = await exerciseCellIndex(page, spec.exercise, 'check');
  result.exercise = spec.exercise;
  for (const attempt of ['wrong', 'right']) {
    t0 = Date.now();
    await replaceCellText(page, answerIndex, spec[attempt]);
    const sourceSet = await cellSource(page, answerIndex);
    await runAnswerAndCheck(page, opts);
    const cells = (await notebookState(page)).code_cells;
    result[attempt] = {
      answer_source: sourceSet,
      answer_cell: cells.find((c) => c.index === answerIndex),
      check_cell: cells.find((c) => c.index === checkIndex),
      seconds: (Date.now() - t0) / 1000,
    };
    await screenshotExercise(page, answerIndex, checkIndex,
                             path.join(opts.out, `${sc.name}-${attempt}.png`));
  }
  Object.assign(result, await notebookState(page));
}

const SCENARIOS = { 'run-all': runAll, playground, answer };

// --- main ------------------------------------------------------------------------------------

const opts = parseArgs(process.argv.slice(2));
fs.mkdirSync(opts.out, { recursive: true });
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'course-chromium-'));
let context;
let failures = 0;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  });
  const page = context.pages()[0] ?? await context.newPage();
  let pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  let freshPage = true;
  for (const sc of opts.scenarios) {
    const result = { scenario: sc.kind, path: sc.notebook };
    const shot = path.join(opts.out, `${sc.name}.png`);
    const t0 = Date.now();
    pageErrors = [];
    try {
      if (!SCENARIOS[sc.kind]) throw new Error(`unknown scenario ${sc.kind}`);
      result.open_seconds = await openNotebook(page, opts, sc.notebook, freshPage);
      freshPage = false;
      await SCENARIOS[sc.kind](page, opts, sc, result);
      await page.screenshot({ path: shot });
    } catch (err) {
      failures += 1;
      result.driver_error = String(err?.stack ?? err);
      Object.assign(result, await notebookState(page).catch(() => ({})));
      await page.screenshot({ path: shot.replace(/\.png$/, '-failed.png') }).catch(() => {});
      freshPage = true;  // whatever state the page is in, the next scenario does not inherit it
    }
    result.page_errors = pageErrors;
    result.scenario_seconds = (Date.now() - t0) / 1000;
    fs.writeFileSync(path.join(opts.out, `${sc.name}.json`), JSON.stringify(result, null, 1));
    console.log(`${sc.name}: ${result.driver_error ? 'driver error' : 'done'} in ${result.scenario_seconds} s`);
  }
} catch (err) {
  // The browser itself did not start: every scenario is reported as failed by the test,
  // which finds no JSON for it; say why here.
  console.error(`browser: ${err?.stack ?? err}`);
  failures += 1;
} finally {
  await context?.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
