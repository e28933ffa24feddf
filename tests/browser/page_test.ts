// The page in a real browser: Debian's Chromium, headless, driven by playwright-core (npm,
// test-only). Skipped, with the reason printed, where /usr/bin/chromium is not installed
// (.ci/run installs it) or playwright-core cannot be loaded (no npm registry, nothing cached).

import assert from "node:assert/strict";
import type { Server } from "../../src/server/server.ts";
import type { Config } from "../../src/config.ts";
import { withDenoServer } from "../support/server.ts";

const CHROMIUM = Deno.env.get("WSECHO_CHROMIUM") ?? "/usr/bin/chromium";
// Not a string literal: `deno check` and `deno test` would otherwise fetch the package to
// type-check this file, and the whole suite would need the npm registry.
const PLAYWRIGHT = ["npm:playwright-core", "1.57.0"].join("@");

// The little of playwright-core's API used here (its own types would need the registry too).
interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface Locator {
  waitFor(): Promise<void>;
  textContent(): Promise<string | null>;
  allTextContents(): Promise<string[]>;
  count(): Promise<number>;
  first(): Locator;
  nth(i: number): Locator;
  locator(selector: string): Locator;
  boundingBox(): Promise<Box | null>;
}
interface Page {
  on(event: "console", fn: (m: { type(): string; text(): string }) => void): void;
  on(event: "pageerror", fn: (e: Error) => void): void;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  goto(url: string): Promise<unknown>;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  selectOption(selector: string, value: string): Promise<unknown>;
  screenshot(options: { path: string; fullPage: boolean }): Promise<unknown>;
  evaluate<T>(expression: string): Promise<T>;
}
interface CDPSession {
  send(method: string): Promise<unknown>;
  on(event: string, fn: (e: { request: { headers: Record<string, string> } }) => void): void;
}
interface BrowserContext {
  newPage(): Promise<Page>;
  newCDPSession(page: Page): Promise<CDPSession>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: {
    launchPersistentContext(dir: string, options: Record<string, unknown>): Promise<BrowserContext>;
  };
}

let playwright: Playwright | null = null;
const skip = await whyNot();
if (skip !== null) console.log(`%cbrowser tests skipped: ${skip.detail}`, "color: #e67700");

// Why the browser tests cannot run here (briefly, and in detail), or null when they can.
async function whyNot(): Promise<{ short: string; detail: string } | null> {
  try {
    if (!Deno.statSync(CHROMIUM).isFile) {
      return { short: "no Chromium", detail: `${CHROMIUM} is not a file` };
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      const detail = `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
      return { short: "no Chromium", detail };
    }
    throw err;
  }
  try {
    playwright = await import(PLAYWRIGHT);
    return null;
  } catch (err) {
    // Deno reports a package it can neither fetch nor find cached as a TypeError ("Failed
    // loading ... for package"); anything else (a missing permission, say) is a real failure.
    if (!(err instanceof TypeError)) throw err;
    const first = err.message.split("\n")[0];
    return {
      short: "playwright-core cannot be loaded",
      detail: `${PLAYWRIGHT} cannot be loaded (npm registry unreachable and not cached?): ${first}`,
    };
  }
}

/** A Chromium page on a fresh server; fails the test on any console error of the page. */
function pageTest(
  name: string,
  fn: (page: Page, ctx: BrowserContext, server: Server) => Promise<void>,
  // Most tests check frames byte for byte: Chromium's offer of permessage-deflate is declined.
  config: Partial<Config> = { deflate: false },
): void {
  Deno.test({
    // The reason goes in the name too: the list of results is where a skip is looked for.
    name: `page: ${name}` + (skip === null ? "" : ` (skipped: ${skip.short})`),
    ignore: skip !== null,
    async fn() {
      await withDenoServer(config, async (_port, server) => {
        const userDataDir = await Deno.makeTempDir({ prefix: "wsecho-chromium-" });
        const context = await playwright!.chromium.launchPersistentContext(userDataDir, {
          executablePath: CHROMIUM,
          headless: true,
          args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
          ],
        });
        const errors: string[] = [];
        try {
          const page = await context.newPage();
          page.on("console", (m) => {
            if (m.type() === "error") errors.push(m.text());
          });
          page.on("pageerror", (e) => errors.push(String(e)));
          await page.setViewportSize({ width: 1280, height: 900 });
          await fn(page, context, server);
          assert.deepEqual(errors, [], "no console errors");
        } finally {
          await context.close();
          await Deno.remove(userDataDir, { recursive: true });
        }
      });
    },
  });
}

/** Loads the page from the test's server and waits until it has connected to /inspect. */
async function open(page: Page, server: Server): Promise<void> {
  await page.goto(`http://127.0.0.1:${server.addr.port}/`);
  // The page connects by itself, to /inspect.
  await page.locator('.state.active[data-state="OPEN"]').waitFor();
  await page.locator("#accept").waitFor();
}

const text = async (page: Page, selector: string) =>
  (await page.locator(selector).textContent())?.replace(/\s+/g, " ").trim() ?? "";
const hexOf = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0"));

pageTest("your masked frame beside the server's unmasked echo, and why clients mask", async (
  page,
  _ctx,
  server,
) => {
  await open(page, server);
  // The browser's own random key, so only the form can be checked here (the value itself is
  // checked against the RFC example in tests/integration/inspect_test.ts).
  assert.match(await text(page, "#accept"), /^[A-Za-z0-9+/]{27}=$/);

  // Text: echoed, and both frames drawn.
  const hello = "Hello from Chromium";
  await page.fill("#text", hello);
  await page.click("#send-text");
  await page.locator("#log .d.in ~ .body", { hasText: `text (19 B): ${hello}` }).waitFor();
  await page.locator("#echo-summary", { hasText: "0x1 (text)" }).waitFor();
  const key = await text(page, "#mask-key");
  assert.match(key, /^[0-9a-f]{2}( [0-9a-f]{2}){3}$/, "the mask key is shown as 4 bytes");
  const k = key.split(" ").map((b) => parseInt(b, 16));
  const payload = new TextEncoder().encode(hello);
  const masked = payload.map((b, i) => b ^ k[i % 4]);
  // Yours: FIN+text, MASK+19, the key, the masked payload.
  assert.deepEqual(
    await page.locator("#frame-bytes .byte").allTextContents(),
    ["81", "93", ...key.split(" "), ...hexOf(masked)],
  );
  // The server's: FIN+text, 19 without MASK, the payload as is.
  assert.deepEqual(
    await page.locator("#echo-bytes .byte").allTextContents(),
    ["81", "13", ...hexOf(payload)],
  );
  assert.match(await text(page, "#echo-summary"), /mask none/);
  // Bit 8 of each header is MASK: 1 from the browser, 0 from the server.
  assert.equal(await page.locator("#frame-bits .bit").nth(8).locator("b").textContent(), "1");
  assert.equal(await page.locator("#echo-bits .bit").nth(8).locator("b").textContent(), "0");
  assert.equal(await page.locator("#xor tbody tr").count(), 19, "one row per payload byte");
  const row0 = await page.locator("#xor tbody tr").first().locator("td").allTextContents();
  assert.equal(row0[1], "48");
  assert.equal(row0[5], (0x48 ^ k[0]).toString(16).padStart(2, "0"));

  const why = await text(page, "#why-mask");
  assert.match(why, /cache poisoning/);
  assert.match(why, /RFC 6455 §10\.3/);

  // Binary (hex): echoed byte for byte; both frames redrawn with opcode 2.
  await page.fill("#hex", "de ad be ef 00 01");
  await page.click("#send-hex");
  await page.locator("#log .d.in ~ .body", { hasText: "binary (6 B): de ad be ef 00 01" })
    .waitFor();
  await page.locator("#frame-summary", { hasText: "0x2 (binary)" }).waitFor();
  await page.locator("#echo-summary", { hasText: "0x2 (binary)" }).waitFor();
  assert.deepEqual(
    await page.locator("#echo-bytes .byte").allTextContents(),
    ["82", "06", "de", "ad", "be", "ef", "00", "01"],
  );
  assert.equal(await page.locator("#xor tbody tr").count(), 6);

  await page.screenshot({ path: await artifact("page.png"), fullPage: true });
});

pageTest("after a reconnect the visualizer shows the current connection only", async (
  page,
  ctx,
  server,
) => {
  // Chromium's own record of every handshake it sent: the key of each connection.
  const keys: string[] = [];
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => {
    keys.push(e.request.headers["Sec-WebSocket-Key"]);
  });
  await open(page, server);
  assert.equal(await text(page, "#hs-key"), keys.at(-1));
  assert.equal(await text(page, "#conn-no"), "1");
  await page.fill("#text", "first connection");
  await page.click("#send-text");
  await page.locator("#echo-summary", { hasText: "0x1 (text)" }).waitFor();
  await page.click("#close");
  await page.locator('.state.active[data-state="CLOSED"]').waitFor();

  // To the plain echo: no reports, so nothing of connection 1 may stay on screen.
  await page.selectOption("#url", "/");
  await page.click("#connect");
  await page.locator('.state.active[data-state="OPEN"]').waitFor();
  assert.equal(await text(page, "#conn-no"), "2");
  assert.match(await text(page, "#viz-conn"), /plain echo sends no reports/);
  assert.equal(await page.locator("#hs-key").count(), 0, "no handshake of connection 1");
  assert.equal(await text(page, "#frame-summary"), "Not reported on the plain echo.");
  assert.equal(await text(page, "#echo-summary"), "Not reported on the plain echo.");
  assert.equal(await text(page, "#xor tbody"), "No frame yet.");
  // Text that looks like a report is still an echo here.
  await page.fill("#text", '{"type":"inspect","kind":"frame"}');
  await page.click("#send-text");
  await page.locator("#log .d.in ~ .body", { hasText: '{"type":"inspect"' }).waitFor();
  assert.equal(await page.locator("#close-client .byte").count(), 0, "no close of connection 1");
  await page.click("#disconnect");
  await page.locator('.state.active[data-state="CLOSED"]').waitFor();

  // Back to /inspect: the handshake drawn is the one Chromium has just sent.
  await page.selectOption("#url", "/inspect");
  await page.click("#connect");
  await page.locator('.state.active[data-state="OPEN"]').waitFor();
  await page.locator("#hs-key").waitFor();
  assert.equal(keys.length, 3);
  assert.equal(await text(page, "#hs-key"), keys[2]);
  assert.notEqual(keys[2], keys[0]);
  assert.equal(await text(page, "#conn-no"), "3");
  assert.equal(await text(page, "#frame-summary"), "Send a message to see its frame.");
  await page.fill("#hex", "01 02 03");
  await page.click("#send-hex");
  await page.locator("#echo-summary", { hasText: "0x2 (binary)" }).waitFor();
  assert.deepEqual(await page.locator("#echo-bytes .byte").allTextContents(), [
    "82",
    "03",
    "01",
    "02",
    "03",
  ]);
  // Text that starts like a report but is not one is an echo (and breaks nothing).
  await page.fill("#text", '{"type":"inspect","kind":"frame"}');
  await page.click("#send-text");
  // (The second such echo in the log: the first was on the plain echo.)
  await page.locator("#log .d.in ~ .body", { hasText: '{"type":"inspect"' }).nth(1).waitFor();
  // ... whose frames are drawn like any other.
  await page.locator("#echo-summary", { hasText: "length 33" }).waitFor();
});

pageTest("close frames both ways: yours, the server's echo of it, or the server's own", async (
  page,
  _ctx,
  server,
) => {
  await open(page, server);
  // Close with a code and reason: the server echoes both (RFC 6455 §5.5.1).
  await page.fill("#code", "4001");
  await page.fill("#reason", "done");
  await page.click("#close");
  await page.locator('.state.active[data-state="CLOSED"]').waitFor();
  await page.locator("#log .body", { hasText: 'closed: code 4001 "done", clean' }).waitFor();
  // 0x88 = FIN + close; length 6 = 2 code bytes + "done"; 4001 = 0x0fa1.
  assert.deepEqual(await page.locator("#close-client .byte").allTextContents(), [
    "88",
    "86",
    "??",
    "??",
    "??",
    "??",
    "0f",
    "a1",
    "64",
    "6f",
    "6e",
    "65",
    "(before masking)",
  ]);
  assert.deepEqual(await page.locator("#close-server .byte").allTextContents(), [
    "88",
    "06",
    "0f",
    "a1",
    "64",
    "6f",
    "6e",
    "65",
  ]);
  assert.equal(await text(page, "#close-server .code"), "4001 (private use)");
  assert.match(await text(page, "#close-note"), /You closed first/);
  await page.screenshot({ path: await artifact("page-closed.png"), fullPage: true });

  // Close without a code: an empty close frame each way (the browser reports 1005).
  await page.click("#connect");
  await page.locator('.state.active[data-state="OPEN"]').waitFor();
  await page.click("#disconnect");
  await page.locator("#log .body", { hasText: "closed: code 1005, clean" }).waitFor();
  assert.deepEqual(await page.locator("#close-client .byte").allTextContents(), [
    "88",
    "80",
    "??",
    "??",
    "??",
    "??",
  ]);
  assert.deepEqual(await page.locator("#close-server .byte").allTextContents(), ["88", "00"]);

  // The server closes first (draining): 1001 "going away", and the browser answers.
  await page.click("#connect");
  await page.locator('.state.active[data-state="OPEN"]').waitFor();
  await server.drain(10_000);
  await page.locator('.state.active[data-state="CLOSED"]').waitFor();
  await page.locator("#close-server .code", { hasText: "1001 (going away)" }).waitFor();
  const going = hexOf(new TextEncoder().encode("going away"));
  assert.deepEqual(
    await page.locator("#close-server .byte").allTextContents(),
    ["88", "0c", "03", "e9", ...going],
  );
  assert.match(await text(page, "#close-client"), /answered with a close frame of its own/);
  assert.match(await text(page, "#close-note"), /The server closed first/);
});

pageTest(
  "at 390 px the state chips stay on one line and the log comes before the visualizer",
  async (
    page,
    _ctx,
    server,
  ) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await open(page, server);
    await page.click("#send-text");
    await page.locator("#echo-summary", { hasText: "0x1 (text)" }).waitFor();

    const chips = page.locator("#states .state");
    assert.equal(await chips.count(), 4);
    const tops = new Set<number>();
    for (let i = 0; i < 4; i++) tops.add(Math.round((await chips.nth(i).boundingBox())!.y));
    assert.equal(tops.size, 1, "all four chips on one line");
    const states = (await page.locator("#states").boundingBox())!;
    const last = (await chips.nth(3).boundingBox())!;
    assert.ok(last.x + last.width <= states.x + states.width, "the last chip is not cut off");
    assert.equal(
      await page.evaluate<boolean>("document.documentElement.scrollWidth <= innerWidth"),
      true,
      "nothing is wider than the screen",
    );

    const log = (await page.locator("#log").boundingBox())!;
    const viz = (await page.locator("#viz").boundingBox())!;
    assert.ok(log.y + log.height <= viz.y, "the whole log is above the visualizer");

    await page.screenshot({ path: await artifact("page-phone.png"), fullPage: true });
  },
);

// Screenshots go to tests/artifacts/ (ignored by git).
async function artifact(name: string): Promise<string> {
  const dir = new URL("../artifacts/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  return new URL(name, dir).pathname;
}

pageTest(
  "Chromium negotiates permessage-deflate and the page shows it",
  async (page, _ctx, server) => {
    await open(page, server);
    assert.match(await text(page, "#extensions"), /^permessage-deflate/);
    const long = "compress me ".repeat(20); // over the threshold: the echo is compressed too
    await page.fill("#text", long);
    await page.click("#send-text");
    await page.locator("#frame-summary", { hasText: "RSV1 1 (compressed)" }).waitFor();
    await page.locator("#inflated", { hasText: `inflated ${long.length} B` }).waitFor();
    await page.locator("#echo-summary", { hasText: `inflated length ${long.length}` }).waitFor();
    await page.locator("#log .d.in ~ .body", { hasText: `text (${long.length} B)` }).waitFor();
    await page.screenshot({ path: "tests/artifacts/page-deflate.png", fullPage: true });
  },
  {},
);
