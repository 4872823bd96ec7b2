// A live progress line on stderr: redrawn in place on a terminal, a line every few seconds otherwise
// (so logs and CI output stay readable).
export class Progress {
  private last = 0;
  private readonly tty: boolean;
  constructor(private readonly enabled = true, private readonly everyMs = 5000) {
    this.tty = Boolean(process.stderr.isTTY);
  }
  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (this.tty) {
      if (force || now - this.last > 100) { process.stderr.write(`\r\x1b[2K${text}`); this.last = now; }
    } else if (force || now - this.last >= this.everyMs) {
      process.stderr.write(text + "\n");
      this.last = now;
    }
  }
  done(text?: string): void {
    if (!this.enabled) return;
    if (this.tty) process.stderr.write(`\r\x1b[2K${text ? text + "\n" : ""}`);
    else if (text) process.stderr.write(text + "\n");
  }
}
