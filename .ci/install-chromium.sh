#!/bin/sh
# Installs Debian's Chromium for the lab's browser tests (tests/web/browser.test.ts); without it
# they are skipped with their reason. playwright-core drives it and downloads no browser.
set -eu

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
