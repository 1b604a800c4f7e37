// A drawing pad for digits (mouse, pen or finger through pointer events) and the 28×28 view.

const PEN_WIDTH = 22; // of a 280-pixel canvas: strokes about as thick as MNIST's

export class DrawingPad {
  /** `onDraw()` is called, throttled to once per `intervalMs`, while and after strokes. */
  constructor(canvas, { onDraw, intervalMs = 250 } = {}) {
    this.canvas = canvas;
    this.pen = canvas.getContext("2d");
    this.onDraw = onDraw;
    this.intervalMs = intervalMs;
    this.drawing = false;
    this.lastCall = 0;
    this.timer = null;
    this.inked = false;
    canvas.addEventListener("pointerdown", (event) => this.start(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    for (const name of ["pointerup", "pointercancel"]) canvas.addEventListener(name, () => this.end());
    this.clear();
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * this.canvas.width / box.width,
      (event.clientY - box.top) * this.canvas.height / box.height];
  }

  start(event) {
    event.preventDefault();
    this.drawing = true;
    this.canvas.setPointerCapture(event.pointerId);
    this.last = this.point(event);
    this.line(this.last, this.last);
  }

  move(event) {
    if (!this.drawing) return;
    const next = this.point(event);
    this.line(this.last, next);
    this.last = next;
  }

  end() {
    if (!this.drawing) return;
    this.drawing = false;
    this.schedule(true);
  }

  line(from, to) {
    const pen = this.pen;
    pen.strokeStyle = "#000";
    pen.lineWidth = PEN_WIDTH;
    pen.lineCap = pen.lineJoin = "round";
    pen.beginPath();
    if (from[0] === to[0] && from[1] === to[1]) { // a dot: a zero-length line draws nothing
      pen.fillStyle = "#000";
      pen.arc(...from, PEN_WIDTH / 2, 0, 2 * Math.PI);
      pen.fill();
    } else {
      pen.moveTo(...from);
      pen.lineTo(...to);
      pen.stroke();
    }
    this.inked = true;
    this.schedule(false);
  }

  /** Throttle: at most one call per interval while drawing, and always one after a stroke. */
  schedule(final) {
    if (!this.onDraw) return;
    const wait = this.lastCall + this.intervalMs - performance.now();
    clearTimeout(this.timer);
    if (wait <= 0 && !final) {
      this.lastCall = performance.now();
      this.onDraw();
    } else {
      this.timer = setTimeout(() => { this.lastCall = performance.now(); this.onDraw(); }, Math.max(0, wait));
    }
  }

  clear() {
    this.pen.fillStyle = "#fff";
    this.pen.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
    clearTimeout(this.timer);
  }

  /** The drawing as base64 PNG, as the predict endpoints take in `images`. */
  png() {
    return this.canvas.toDataURL("image/png").split(",")[1];
  }
}

/** Paint a 28×28 array of 0..1 (ink 1) onto `canvas`, big pixels, white ink on black like MNIST. */
export function paintPixels(canvas, rows) {
  const size = rows.length;
  const image = new ImageData(size, size);
  rows.flat().forEach((value, index) => {
    const level = Math.round(255 * Math.min(1, Math.max(0, value)));
    image.data.set([level, level, level, 255], index * 4);
  });
  const small = document.createElement("canvas");
  small.width = small.height = size;
  small.getContext("2d").putImageData(image, 0, 0);
  const pen = canvas.getContext("2d");
  pen.imageSmoothingEnabled = false;
  pen.drawImage(small, 0, 0, canvas.width, canvas.height);
}
