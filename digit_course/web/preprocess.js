// The MNIST steps of digit_course.preprocess.preprocess_digit, in JavaScript, for the pad's own canvas.
// Each function follows its Python namesake line by line; tests/test_web_pad.py checks that both give the
// same 28x28 images on re-drawn MNIST test digits. The ink is the canvas's alpha channel: the pad draws on a
// transparent canvas, so there is no paper to estimate (that part of ink_of, for photos, stays in Python).
const DigitPreprocess = (() => {
  const IMG_SIZE = 28, BOX_SIZE = 20, MNIST_CENTER = [14.0, 14.0];
  const INK_LEVEL = 0.25, MIN_PEAK = 0.15, MAX_STROKE = 3.0;

  // ink_of for an image whose ink is its alpha channel: {data: Float32Array in [0, 1], h, w}
  function inkOfImageData(imageData) {
    const {width: w, height: h, data} = imageData;
    const ink = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) ink[i] = data[4 * i + 3] / 255;
    return {data: ink, h, w};
  }

  // stroke_width: 2 x area / outline of the pixels with ink >= 0.5
  function strokeWidth({data, h, w}) {
    const at = (y, x) => y >= 0 && y < h && x >= 0 && x < w && data[y * w + x] >= 0.5;
    let area = 0, inner = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      if (!at(y, x)) continue;
      area++;
      if (at(y - 1, x) && at(y + 1, x) && at(y, x - 1) && at(y, x + 1)) inner++;
    }
    return 2 * area / Math.max(area - inner, 1);
  }

  // scipy.ndimage.grey_erosion with a (2k+1) x (2k+1) square: the minimum over the window (the image's edge
  // is reflected, which adds no new values to a window that is centred inside it)
  function greyErosion({data, h, w}, k) {
    const rows = new Float32Array(h * w), out = new Float32Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let m = Infinity;
      for (let j = Math.max(0, x - k); j <= Math.min(w - 1, x + k); j++) m = Math.min(m, data[y * w + j]);
      rows[y * w + x] = m;
    }
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let m = Infinity;
      for (let i = Math.max(0, y - k); i <= Math.min(h - 1, y + k); i++) m = Math.min(m, rows[i * w + x]);
      out[y * w + x] = m;
    }
    return {data: out, h, w};
  }

  // Pillow's resize with LANCZOS on a float32 ('F') image: a separable convolution, horizontal pass first,
  // each output pixel a normalised window of the Lanczos-3 kernel stretched by the reduction factor
  const sinc = x => { if (x === 0) return 1; x *= Math.PI; return Math.sin(x) / x; };
  const lanczos = x => (x >= -3 && x < 3) ? sinc(x) * sinc(x / 3) : 0;
  function coefficients(inSize, outSize) {
    const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = 3 * filterscale;
    const out = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(center - support + 0.5));
      const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
      const k = new Float64Array(Math.max(xmax, 0));
      let ww = 0;
      for (let x = 0; x < xmax; x++) { k[x] = lanczos((x + xmin - center + 0.5) / filterscale); ww += k[x]; }
      if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
      out.push({xmin, k});
    }
    return out;
  }
  function resizeLanczos(img, outW, outH) {
    let {data, h, w} = img;
    if (outW !== w) {
      const cs = coefficients(w, outW), tmp = new Float32Array(h * outW);
      for (let y = 0; y < h; y++) for (let xx = 0; xx < outW; xx++) {
        const {xmin, k} = cs[xx]; let s = 0;
        for (let x = 0; x < k.length; x++) s += data[y * w + x + xmin] * k[x];
        tmp[y * outW + xx] = s;
      }
      data = tmp; w = outW;
    }
    if (outH !== h) {
      const cs = coefficients(h, outH), tmp = new Float32Array(outH * w);
      for (let yy = 0; yy < outH; yy++) {
        const {xmin: ymin, k} = cs[yy];
        for (let x = 0; x < w; x++) {
          let s = 0;
          for (let y = 0; y < k.length; y++) s += data[(y + ymin) * w + x] * k[y];
          tmp[yy * w + x] = s;
        }
      }
      data = tmp; h = outH;
    }
    return {data, h, w};
  }

  const roundHalfEven = v => {  // Python's round(): halves go to the even neighbour
    const r = Math.round(v);
    return (Math.abs(v % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
  };

  // _fit_box: crop to the ink's bounding box, thin thick strokes, scale into box x box keeping the aspect ratio
  function fitBox(ink, box = BOX_SIZE, maxStroke = MAX_STROKE) {
    const {data, h, w} = ink;
    let peak = 0;
    for (const v of data) if (v > peak) peak = v;
    if (peak < MIN_PEAK) return null;
    let r0 = h, r1 = -1, c0 = w, c1 = -1;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (data[y * w + x] >= INK_LEVEL * peak) {
      r0 = Math.min(r0, y); r1 = Math.max(r1, y); c0 = Math.min(c0, x); c1 = Math.max(c1, x);
    }
    const nRows = r1 - r0 + 1, nCols = c1 - c0 + 1;
    if (nRows * nCols < 2 && h * w > 4 * IMG_SIZE ** 2) return null;  // a speck of dust on a big image
    let crop = {data: new Float32Array(nRows * nCols), h: nRows, w: nCols};
    for (let y = 0; y < nRows; y++) for (let x = 0; x < nCols; x++) crop.data[y * nCols + x] = data[(y + r0) * w + x + c0] / peak;
    const scale = box / Math.max(nRows, nCols);
    if (maxStroke) {
      const k = Math.trunc((strokeWidth(crop) * scale - maxStroke) / 2 / scale);  // pixels to take off each side
      if (k >= 1) crop = greyErosion(crop, k);
    }
    const sh = Math.max(1, roundHalfEven(nRows * scale)), sw = Math.max(1, roundHalfEven(nCols * scale));
    const small = resizeLanczos(crop, sw, sh);
    let top = 1e-6;
    for (let i = 0; i < small.data.length; i++) { if (small.data[i] < 0) small.data[i] = 0; if (small.data[i] > top) top = small.data[i]; }
    for (let i = 0; i < small.data.length; i++) small.data[i] /= top;
    return small;
  }

  // _center: paste into 28x28, then move the centre of mass to (14, 14) by whole pixels, kept inside
  function center(small, size = IMG_SIZE) {
    const {data, h, w} = small;
    const y0 = Math.floor((size - h) / 2), x0 = Math.floor((size - w) / 2);
    let total = 0, sy = 0, sx = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const v = data[y * w + x]; total += v; sy += (y + y0) * v; sx += (x + x0) * v;
    }
    const clip = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    const dy = clip(roundHalfEven(MNIST_CENTER[0] - sy / total), -y0, size - h - y0);
    const dx = clip(roundHalfEven(MNIST_CENTER[1] - sx / total), -x0, size - w - x0);
    const out = new Float32Array(size * size);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(y + y0 + dy) * size + x + x0 + dx] = data[y * w + x];
    return out;
  }

  // preprocess_digit: a (28 * 28) Float32Array in [0, 1] like an MNIST digit, or null when nothing is drawn
  function preprocessDigit(imageData) {
    const small = fitBox(inkOfImageData(imageData));
    return small === null ? null : center(small);
  }

  return {IMG_SIZE, BOX_SIZE, INK_LEVEL, MIN_PEAK, MAX_STROKE, inkOfImageData, strokeWidth, greyErosion,
          resizeLanczos, fitBox, center, preprocessDigit};
})();
if (typeof module !== 'undefined') module.exports = DigitPreprocess;
