// Helpers for the browser tests: the demo server, Debian's chromium through playwright-core, and
// polling assertions (playwright-core has no `expect`; these retry node:assert checks instead).
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Locator,
  type Page,
} from "playwright-core";

export interface Demo {
  url: string;
  close: () => Promise<void>;
}

export interface DemoOptions {
  port: number;
  host: string;
  redisUrl?: string;
  redisKey?: string;
  nodeName?: string;
}

/** Starts examples/demo/server.mjs in this process. */
export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const modulePath = path.join(__dirname, "../../examples/demo/server.mjs");
  const { start } = (await import(modulePath)) as { start: (o: DemoOptions) => Promise<Demo> };
  return start(opts);
}

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

const WAIT_MS = 15_000;

/** Retries `check` until it stops throwing, or rethrows its last error after `timeoutMs`. */
export async function eventually(check: () => Promise<void>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Waits until the locator's text (or each matched element's text, in order) equals `expected`. */
export function hasText(locator: Locator, expected: string | (string | RegExp)[]): Promise<void> {
  return eventually(async () => {
    const texts = (await locator.allTextContents()).map((t) => t.trim());
    if (typeof expected === "string") {
      assert.deepEqual(texts, [expected]);
      return;
    }
    assert.equal(texts.length, expected.length, `got ${JSON.stringify(texts)}`);
    expected.forEach((want, i) =>
      want instanceof RegExp ? assert.match(texts[i] ?? "", want) : assert.equal(texts[i], want),
    );
  });
}

export function hasCount(locator: Locator, count: number): Promise<void> {
  return eventually(async () => assert.equal(await locator.count(), count));
}

export function contains(locator: Locator, fragment: string): Promise<void> {
  return eventually(async () => {
    const text = (await locator.textContent()) ?? "";
    assert.ok(
      text.includes(fragment),
      `${JSON.stringify(fragment)} not in ${JSON.stringify(text)}`,
    );
  });
}

export function hasAttribute(locator: Locator, name: string, value: string): Promise<void> {
  return eventually(async () => assert.equal(await locator.getAttribute(name), value));
}

/** Drives demo pages: each page gets its own browser context (cookies, connections). */
export class DemoBrowser {
  readonly pageErrors: string[] = [];
  private readonly contexts: BrowserContext[] = [];

  private constructor(private readonly browser: Browser) {}

  static async launch(): Promise<DemoBrowser> {
    return new DemoBrowser(await launchChromium());
  }

  async open(url: string): Promise<Page> {
    const context = await this.browser.newContext({ viewport: { width: 1360, height: 860 } });
    this.contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (err) => this.pageErrors.push(err.message));
    await page.goto(url);
    return page;
  }

  async close(): Promise<void> {
    for (const context of this.contexts) await context.close();
    await this.browser.close();
  }
}

/** Connects a page under `name`; resolves to its socket id. */
export async function login(page: Page, name: string): Promise<string> {
  await page.getByTestId("username").fill(name);
  await page.getByTestId("connect").click();
  await hasText(page.getByTestId("status"), `connected as ${name}`);
  const id = (await page.getByTestId("socket-id").textContent()) ?? "";
  assert.match(id, /^[\w-]{10,}$/);
  return id;
}

export function roomItem(page: Page, room: string): Locator {
  return page.locator(`[data-testid="my-rooms"] li[data-room="${room}"]`);
}

export async function joinRoom(page: Page, room: string): Promise<void> {
  await page.getByTestId("room-input").fill(room);
  await page.getByTestId("join-room").click();
  await hasCount(roomItem(page, room), 1);
}

export function roomsOf(page: Page): Promise<(string | undefined)[]> {
  return page
    .locator('[data-testid="my-rooms"] li')
    .evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset["room"]));
}

export async function send(page: Page, room: string, text: string): Promise<void> {
  await page.getByTestId("message-room").selectOption(room);
  await page.getByTestId("message-text").fill(text);
  await page.getByTestId("send").click();
}

export async function adminAction(
  page: Page,
  action: "join" | "leave" | "disconnect" | "fetch" | "hello",
  fields: { target?: string; except?: string; room?: string } = {},
): Promise<void> {
  await page.getByTestId("admin-target").fill(fields.target ?? "");
  await page.getByTestId("admin-except").fill(fields.except ?? "");
  await page.getByTestId("admin-room").fill(fields.room ?? "");
  await page.getByTestId(`admin-${action}`).click();
}

export interface DemoWorkers {
  url: string;
  /** What the primary printed. */
  output(): string;
  /** SIGTERM to the primary; resolves with its exit code once it has ended. */
  stop(): Promise<number | null>;
}

/**
 * Runs `WORKERS=<count> npm start` (examples/demo/server.mjs as its own primary) on an ephemeral port, with
 * `env` added (DEBUG=... shows the workers' debug lines in `output()`).
 */
export async function startDemoWorkers(
  count: number,
  env: Record<string, string> = {},
): Promise<DemoWorkers> {
  const script = path.join(__dirname, "../../examples/demo/server.mjs");
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env, WORKERS: String(count), PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${output}`)), 60_000);
    const look = () => {
      const match = /listening: open (http:\/\/localhost:\d+)/.exec(output);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.stdout.off("data", look);
      resolve(match[1].replace("localhost", "127.0.0.1"));
    };
    child.stdout.on("data", look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
