#!/usr/bin/env bash
# Browser tests drive Debian's Chromium; never a downloaded browser build. The emoji font
# only makes screenshots show what users see (📎, ✓✓, reactions); tests do not need it.
set -euo pipefail
EMOJI_FONT=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
if [ -x /usr/bin/chromium ] && [ -e "$EMOJI_FONT" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium (and its emoji font) for the browser tests..."
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null
  exit 0
fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "The browser tests need Debian's Chromium at /usr/bin/chromium." >&2
echo "Install it with:  sudo apt-get install -y chromium fonts-noto-color-emoji" >&2
exit 1
