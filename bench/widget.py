"""Widget budget: gzipped size of the one served file (JS with its CSS inside), time from
the script finishing loading to the chat button being visible, and the memory of a page
with the widget open on a 1,000-message conversation.

Starts its own `manage.py serve` on a free port with a throwaway SQLite database and
drives Debian's Chromium through Playwright. Usage: python bench/widget.py [--runs N]
"""

import argparse
import gzip
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WIDGET = ROOT / "wachat" / "widget" / "static" / "wachat" / "widget.js"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BUDGET = 20 * 1024

SEED = """
from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.widget import auth
bob = make_agent("bob")
session = actions.touch_visitor_session(session_id="bench-visitor")
first, _ = actions.send_visitor_message(visitor_session=session, text="hello", client_id="0")
for i in range(1, 1000):
    if i % 2:
        text = f"Agent answer {i}: see https://example.com/item/{i} for details"
        actions.send_agent_message(
            conversation=first.conversation, agent=bob, text=text, client_id=f"a{i}")
    else:
        actions.send_visitor_message(visitor_session=session,
            text=f"Visitor message number {i} with a little text", client_id=str(i))
print(auth.issue_token(session.pk))
"""

# Runs before any page script: notes when the launcher first has a size on screen.
WATCH = """
(() => {
  const tick = () => {
    const host = document.querySelector('#wachat-widget');
    const button = host && host.shadowRoot && host.shadowRoot.querySelector('.launcher');
    if (button && button.getBoundingClientRect().width > 0) {
      window.__wcVisible = performance.now();
      return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""


def sizes():
    raw = WIDGET.read_bytes()
    return len(raw), len(gzip.compress(raw, 9)), len(gzip.compress(raw, 6))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "WACHAT_DATA_DIR": str(data_dir),
        "SECRET_KEY": "bench-only-secret",
        "WHATSAPP_EMULATOR": "true",
        "PUBLIC_URL": url,
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{data_dir}/bench.sqlite3",
    }
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
    token = (
        subprocess.run(
            [*manage, "shell", "-c", SEED], env=env, check=True, cwd=ROOT, capture_output=True
        )
        .stdout.decode()
        .strip()
        .splitlines()[-1]
    )
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115 (lives as long as the server)
    server = subprocess.Popen(
        [*manage, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return server, url, token
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"server did not start; see {data_dir / 'serve.log'}")


def time_to_button(browser, url, runs):
    times = []
    for _ in range(runs):
        context = browser.new_context()
        page = context.new_page()
        page.add_init_script(WATCH)
        page.goto(url + "/demo/")
        page.wait_for_function("window.__wcVisible !== undefined")
        times.append(
            page.evaluate(
                "() => window.__wcVisible - performance.getEntriesByType('resource')"
                ".find((e) => e.name.endsWith('/widget.js')).responseEnd"
            )
        )
        context.close()
    return times


def heap(page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["JSHeapUsedSize"], metrics["Nodes"]


def memory(browser, url, token):
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "/demo/")
    page.wait_for_function("window.WaChat !== undefined")
    empty_heap, empty_nodes = heap(page)
    page.add_init_script(f"localStorage.setItem('wachat:token', JSON.stringify('{token}'))")
    page.reload()
    page.evaluate("WaChat.open()")
    bubbles = page.locator("#wachat-widget .msg")
    bubbles.first.wait_for()
    started = time.monotonic()
    while bubbles.count() < 1000 and time.monotonic() - started < 120:
        page.locator("#wachat-widget .log").evaluate("(log) => { log.scrollTop = 0; }")
        page.wait_for_timeout(150)
    count = bubbles.count()
    full_heap, full_nodes = heap(page)
    context.close()
    return count, empty_heap, empty_nodes, full_heap, full_nodes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs

    raw, gz9, gz6 = sizes()
    print(f"widget.js (JS + CSS, one file): {raw / 1024:.1f} KB raw")
    print(f"  gzipped: {gz6 / 1024:.1f} KB (level 6), {gz9 / 1024:.1f} KB (level 9)")
    print(f"  budget 20 KB gzipped: {'OK' if gz6 <= BUDGET else 'OVER'}")

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server, url, token = start_server(Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                times = time_to_button(browser, url, runs)
                print(
                    f"script loaded -> button visible: median {statistics.median(times):.1f} ms,"
                    f" max {max(times):.1f} ms ({runs} page loads)"
                )
                count, empty_heap, empty_nodes, full_heap, full_nodes = memory(browser, url, token)
                mb = 1024 * 1024
                print(f"page with the widget, no conversation: JS heap {empty_heap / mb:.1f} MB,")
                print(f"  {empty_nodes:.0f} DOM nodes")
                print(
                    f"widget open with {count} messages: JS heap {full_heap / mb:.1f} MB "
                    f"(+{(full_heap - empty_heap) / mb:.1f} MB), {full_nodes:.0f} DOM nodes"
                )
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0 if gz6 <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
