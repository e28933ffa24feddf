// The page in a real browser: Debian's Chromium, headless, driven by playwright-core (npm,
// test-only). Skipped where /usr/bin/chromium is not installed (.ci/run installs it).

import assert from "node:assert/strict";
import { withServer } from "../support/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "page: connects, echoes text and binary, shows the frame and its masking, closes 1000",
  ignore: !hasChromium,
  async fn() {
    const { chromium } = await import("npm:playwright-core@1.57.0");
    // Chromium offers permessage-deflate: the frame checks below read the payload bytes as
    // typed, which compression would change.
    await withServer({ deflate: false }, async (port) => {
      const userDataDir = await Deno.makeTempDir({ prefix: "wsecho-chromium-" });
      const context = await chromium.launchPersistentContext(userDataDir, {
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
        await page.goto(`http://127.0.0.1:${port}/`);

        // The page connects by itself, to /inspect.
        await page.locator('.state.active[data-state="OPEN"]').waitFor();
        await page.locator("#accept").waitFor();
        // The browser's own random key, so only the form can be checked here (the value
        // itself is checked against the RFC example in tests/integration/inspect_test.ts).
        assert.match(await page.locator("#accept").textContent() ?? "", /^[A-Za-z0-9+/]{27}=$/);

        // Text: echoed, and its frame drawn.
        await page.fill("#text", "Hello from Chromium");
        await page.click("#send-text");
        await page.locator("#log li", { hasText: "← " }).or(page.locator("#log .d.in")).first()
          .waitFor();
        await page.locator("#log .body", { hasText: "text (19 B): Hello from Chromium" }).nth(1)
          .waitFor();
        const key = (await page.locator("#mask-key").textContent())?.trim() ?? "";
        assert.match(key, /^[0-9a-f]{2}( [0-9a-f]{2}){3}$/, "the mask key is shown as 4 bytes");
        assert.equal(await page.locator("#xor tbody tr").count(), 19, "one row per payload byte");
        // Row 0: 'H' (0x48) XOR key[0] = the masked byte.
        const k0 = parseInt(key.slice(0, 2), 16);
        const row0 = await page.locator("#xor tbody tr").first().locator("td").allTextContents();
        assert.equal(row0[1], "48");
        assert.equal(row0[5], (0x48 ^ k0).toString(16).padStart(2, "0"));

        // Binary (hex): echoed byte for byte, frame redrawn with opcode 2.
        await page.fill("#hex", "de ad be ef 00 01");
        await page.click("#send-hex");
        await page.locator("#log .d.in ~ .body", { hasText: "binary (6 B): de ad be ef 00 01" })
          .waitFor();
        await page.locator("#frame-summary", { hasText: "0x2 (binary)" }).waitFor();
        assert.equal(await page.locator("#xor tbody tr").count(), 6);

        await page.screenshot({ path: await artifact("page.png"), fullPage: true });
        await page.setViewportSize({ width: 390, height: 844 });
        await page.screenshot({ path: await artifact("page-phone.png"), fullPage: true });

        // Close with 1000: the server echoes it and the state machine ends in CLOSED.
        await page.fill("#code", "1000");
        await page.click("#close");
        await page.locator('.state.active[data-state="CLOSED"]').waitFor();
        await page.locator("#log .body", { hasText: "closed: code 1000" }).waitFor();
        assert.match(
          await page.locator("#log .body", { hasText: "closed: code 1000" }).textContent() ?? "",
          /clean/,
        );
        assert.deepEqual(errors, [], "no console errors");
      } finally {
        await context.close();
        await Deno.remove(userDataDir, { recursive: true });
      }
    });
  },
});

// Screenshots go to tests/artifacts/ (ignored by git).
async function artifact(name: string): Promise<string> {
  const dir = new URL("../artifacts/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  return new URL(name, dir).pathname;
}
