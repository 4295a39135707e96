// The steps of digit_course.preprocess.preprocess_digit, in JavaScript: the pad's canvas, and pictures (phone
// photos, scans) read in the browser. Each function follows its Python namesake line by line, with the numpy, SciPy
// and Pillow operations it calls done here the same way (boundary modes, float32 rounding, Pillow's resampling).
// tests/test_web_pad.py checks the canvas path and tests/test_web_pictures.py the photo and scan paths against Python.
//
// Images are {data, h, w}: data a Float32Array (numpy float32) or a Float64Array (float64), row by row.
// Pictures are RGBA pixels like an ImageData, {data, width, height}, or a source that reads them on demand
// ({width, height, reduce(f), crop(y0, y1, x0, x1)}: pad.js reads a large photo that way, a strip at a time).
const DigitPreprocess = (() => {
  const IMG_SIZE = 28, BOX_SIZE = 20, MNIST_CENTER = [14.0, 14.0];
  const INK_LEVEL = 0.25, MIN_PEAK = 0.15, MAX_STROKE = 3.0;
  const PAPER_WINDOW = 6;
  const WORK_SIDE = 800, FINE_DIGIT = 40, MIN_DIGIT = 8, NEAR = 0.3, RULE_SPAN = 0.9;
  const f32 = Math.fround;

  // ---- numpy and SciPy pieces --------------------------------------------------------------------------------
  const image = (data, h, w) => ({data, h, w});
  // numpy compares a float32 array with a Python float in float32: the threshold is rounded first
  const asType = data => data instanceof Float32Array ? f32 : x => x;
  const roundHalfEven = v => {  // Python's round(): halves go to the even neighbour
    const r = Math.round(v);
    return (Math.abs(v % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
  };
  const floorDiv = (a, b) => Math.floor(a / b);

  // The k-th smallest value (0-based) of a typed array, which it reorders: Hoare's selection, median-of-3 pivot.
  // Afterwards every value before index k is <= a[k].
  function kth(a, k) {
    let l = 0, r = a.length - 1;
    while (l < r) {
      const m = (l + r) >> 1;
      let p = a[m];
      const x0 = a[l], x2 = a[r];
      if ((x0 <= p) === (p <= x2)) {} else if ((p <= x0) === (x0 <= x2)) p = x0; else p = x2;
      let i = l, j = r;
      while (i <= j) {
        while (a[i] < p) i++;
        while (p < a[j]) j--;
        if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
      }
      if (j < k) l = i;
      if (k < i) r = j;
    }
    return a[k];
  }
  // The k-th smallest of a Float32Array, exactly, in two counting passes over 16-bit halves of its values' bits
  // (mapped so that unsigned order is numeric order): linear time, whatever the values
  const sortKey = u => (u & 0x80000000) ? ~u >>> 0 : (u | 0x80000000) >>> 0;
  function kthFloat32(values, k) {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length), n = bits.length;
    const count = new Uint32Array(65536);
    for (let i = 0; i < n; i++) count[sortKey(bits[i]) >>> 16]++;
    let high = 0;
    while (k >= count[high]) k -= count[high++];
    count.fill(0);
    for (let i = 0; i < n; i++) { const key = sortKey(bits[i]); if (key >>> 16 === high) count[key & 0xffff]++; }
    let low = 0;
    while (k >= count[low]) k -= count[low++];
    const key = ((high << 16) | low) >>> 0, u = (key & 0x80000000) ? (key & 0x7fffffff) >>> 0 : ~key >>> 0;
    return new Float32Array(new Uint32Array([u]).buffer)[0];
  }
  // np.median: the middle value, or the mean of the two middle ones (in float32 for a float32 array)
  function median(values) {
    const n = values.length, k = n >> 1;
    if (values instanceof Float32Array) {
      const hi = kthFloat32(values, k);
      return n % 2 ? hi : f32(kthFloat32(values, k - 1) + hi) / 2;
    }
    const a = values.slice(), hi = kth(a, k);
    if (n % 2) return hi;
    let lo = -Infinity;
    for (let i = 0; i < k; i++) if (a[i] > lo) lo = a[i];
    return (lo + hi) / 2;
  }
  // np.percentile(values, q), method 'linear'
  function percentile(values, q) {
    const a = values.slice().sort(), n = a.length;
    const v = (n - 1) * (q / 100), i = Math.floor(v), t = v - i;
    const lo = a[i], hi = a[Math.min(i + 1, n - 1)];
    const d = values instanceof Float32Array ? f32(hi - lo) : hi - lo;
    return t >= 0.5 ? hi - d * (1 - t) : lo + d * t;
  }
  const ptp = d => {  // [min, max]
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < d.length; i++) { const v = d[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
    return [lo, hi];
  };

  // numpy's pairwise sum for fewer than 128 values: eight running sums, then combined in pairs
  function pairwiseSum(a) {
    const n = a.length;
    if (n < 8) { let s = 0; for (const v of a) s += v; return s; }
    const r = Array.from(a.slice(0, 8));
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[i + j];
    let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[i];
    return s;
  }

  // scipy.ndimage boundary modes, for an index i outside 0..n-1
  const reflectIndex = (i, n) => {  // 'reflect': d c b a | a b c d | d c b a
    if (n === 1) return 0;
    i = ((i % (2 * n)) + 2 * n) % (2 * n);
    return i < n ? i : 2 * n - 1 - i;
  };
  const nearestIndex = (i, n) => i < 0 ? 0 : i >= n ? n - 1 : i;

  // Apply fn(line, out) along one axis of an image; `line` is the input line extended by `pad` values on each side
  // (mode 'reflect'), in double precision as SciPy's line buffers; out is written into an array of the input's type.
  function alongAxis(img, axis, pad, fn) {
    const {data, h, w} = img, out = new data.constructor(h * w);
    const n = axis === 0 ? h : w, lines = axis === 0 ? w : h;
    const line = new Float64Array(n + 2 * pad), res = new Float64Array(n);
    for (let l = 0; l < lines; l++) {
      const at = axis === 0 ? i => i * w + l : i => l * w + i;
      for (let i = -pad; i < n + pad; i++) line[i + pad] = data[at(i < 0 || i >= n ? reflectIndex(i, n) : i)];
      fn(line, res, n, pad);
      for (let i = 0; i < n; i++) out[at(i)] = res[i];
    }
    return image(out, h, w);
  }

  // ndimage.gaussian_filter(img, sigma): mode 'reflect', truncate 4.0; axis 0 then axis 1, each through the input's
  // dtype; each output the centre weight times the centre, plus the symmetric pairs from the outside in (SciPy's order)
  function gaussianFilter(img, sigma) {
    const radius = Math.trunc(4.0 * sigma + 0.5), phi = new Float64Array(2 * radius + 1);
    for (let x = -radius; x <= radius; x++) phi[x + radius] = Math.exp(-0.5 / (sigma * sigma) * (x * x));
    const total = pairwiseSum(phi);
    for (let i = 0; i < phi.length; i++) phi[i] /= total;
    const fw = phi.slice(radius);  // fw[j]: the weight j pixels away
    const {data, h, w} = img, mid = new data.constructor(h * w), out = new data.constructor(h * w);
    const acc = new Float64Array(w);
    for (let y = 0; y < h; y++) {  // axis 0, a row of outputs at a time (the same sums, in the same order)
      const row = y * w;
      for (let x = 0; x < w; x++) acc[x] = data[row + x] * fw[0];
      for (let j = radius; j >= 1; j--) {
        const a = reflectIndex(y - j, h) * w, b = reflectIndex(y + j, h) * w, wj = fw[j];
        for (let x = 0; x < w; x++) acc[x] += (data[a + x] + data[b + x]) * wj;
      }
      for (let x = 0; x < w; x++) mid[row + x] = acc[x];
    }
    const line = new Float64Array(w + 2 * radius);
    for (let y = 0; y < h; y++) {  // axis 1
      const row = y * w;
      for (let i = -radius; i < w + radius; i++) line[i + radius] = mid[row + (i < 0 || i >= w ? reflectIndex(i, w) : i)];
      for (let x = 0; x < w; x++) {
        const c = x + radius;
        let s = line[c] * fw[0];
        for (let j = radius; j >= 1; j--) s += (line[c - j] + line[c + j]) * fw[j];
        out[row + x] = s;
      }
    }
    return image(out, h, w);
  }

  // ndimage.uniform_filter(img, k): mode 'reflect'; SciPy's running sum, axis 0 then axis 1
  function uniformFilter(img, k) {
    const size1 = k >> 1;
    const run = (line, res, n, pad) => {
      const o = pad - size1;
      let tmp = 0;
      for (let l = 0; l < k; l++) tmp += line[o + l];
      tmp /= k; res[0] = tmp;
      for (let l = 1; l < n; l++) { tmp += (line[o + l + k - 1] - line[o + l - 1]) / k; res[l] = tmp; }
    };
    return alongAxis(alongAxis(img, 0, k, run), 1, k, run);
  }

  // A k x k minimum (or maximum) over the window centred on each pixel, clipped to the image: ndimage.grey_erosion
  // (grey_dilation) with a square of odd side k, whose 'reflect' edge adds no value that is not already in the window
  function rankFilterMinMax({data, h, w}, k, max) {
    const r = k >> 1, rows = new data.constructor(h * w), out = new data.constructor(h * w);
    const better = max ? (a, b) => a > b : (a, b) => a < b;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let m = data[y * w + x];
      for (let j = Math.max(0, x - r); j <= Math.min(w - 1, x + r); j++) if (better(data[y * w + j], m)) m = data[y * w + j];
      rows[y * w + x] = m;
    }
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let m = rows[y * w + x];
      for (let i = Math.max(0, y - r); i <= Math.min(h - 1, y + r); i++) if (better(rows[i * w + x], m)) m = rows[i * w + x];
      out[y * w + x] = m;
    }
    return image(out, h, w);
  }
  const greyErosion = (img, k) => rankFilterMinMax(img, 2 * k + 1, false);  // (2k+1) x (2k+1), as _fit_box uses it
  const greyOpening = (img, k) => rankFilterMinMax(rankFilterMinMax(img, k, false), k, true);

  // ndimage.median_filter(img, size=k, mode='nearest'): the exact median of each k x k window (k odd)
  function medianFilter({data, h, w}, k) {
    const r = k >> 1, out = new data.constructor(h * w), win = new Float64Array(k * k), mid = (k * k) >> 1;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let n = 0;
      for (let i = y - r; i <= y + r; i++) {
        const row = nearestIndex(i, h) * w;
        for (let j = x - r; j <= x + r; j++) win[n++] = data[row + nearestIndex(j, w)];
      }
      out[y * w + x] = kth(win, mid);
    }
    return image(out, h, w);
  }

  // ndimage.zoom(img, (H / h, W / w), order=1, grid_mode=True, mode='nearest'): linear interpolation at
  // (i + 0.5) * h / H - 0.5, the coordinate clamped to the image
  function zoom({data, h, w}, H, W) {
    const axis = (n, N) => {
      const z = n / N, i0 = new Int32Array(N), i1 = new Int32Array(N), t = new Float64Array(N);
      for (let k = 0; k < N; k++) {
        let c = (k + 0.5) * z - 0.5;
        c = c < 0 ? 0 : c > n - 1 ? n - 1 : c;
        const s = Math.floor(c);
        i0[k] = s; i1[k] = Math.min(s + 1, n - 1); t[k] = c - s;
      }
      return {i0, i1, t};
    };
    const Y = axis(h, H), X = axis(w, W), out = new data.constructor(H * W);
    for (let y = 0; y < H; y++) {
      const r0 = Y.i0[y] * w, r1 = Y.i1[y] * w, wy1 = Y.t[y], wy0 = 1 - wy1;
      for (let x = 0; x < W; x++) {
        const c0 = X.i0[x], c1 = X.i1[x], wx1 = X.t[x], wx0 = 1 - wx1;
        let s = 0;
        s += data[r0 + c0] * wy0 * wx0; s += data[r0 + c1] * wy0 * wx1;
        s += data[r1 + c0] * wy1 * wx0; s += data[r1 + c1] * wy1 * wx1;
        out[y * W + x] = s;
      }
    }
    return image(out, H, W);
  }

  // gray[::f, ::f]
  function strided({data, h, w}, f) {
    if (f === 1) return image(data, h, w);
    const H = Math.ceil(h / f), W = Math.ceil(w / f), out = new data.constructor(H * W);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = data[y * f * w + x * f];
    return image(out, H, W);
  }

  // ndimage.label(mask, structure): labels numbered in the order of each mark's first pixel, row by row;
  // with find_objects' boxes [y0, y1, x0, x1) and sum_labels of `weights` (summed in that order, in double)
  function label(mask, h, w, eight, weights) {
    const labels = new Int32Array(h * w), stack = new Int32Array(h * w), boxes = [];
    let n = 0;
    for (let p = 0; p < h * w; p++) {
      if (!mask[p] || labels[p]) continue;
      n++;
      let top = 0, y0 = h, y1 = 0, x0 = w, x1 = 0;
      stack[top++] = p; labels[p] = n;
      while (top) {
        const q = stack[--top], y = (q / w) | 0, x = q - y * w;
        if (y < y0) y0 = y; if (y >= y1) y1 = y + 1; if (x < x0) x0 = x; if (x >= x1) x1 = x + 1;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          if ((!eight && dy && dx) || (!dy && !dx)) continue;
          const yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const r = yy * w + xx;
          if (mask[r] && !labels[r]) { labels[r] = n; stack[top++] = r; }
        }
      }
      boxes.push([y0, y1, x0, x1]);
    }
    const mass = new Float64Array(n + 1);
    if (weights) for (let p = 0; p < h * w; p++) if (labels[p]) mass[labels[p]] += weights[p];
    return {labels, n, boxes, mass};
  }

  // ---- Pillow pieces -------------------------------------------------------------------------------------------
  // Image.resize on a float32 ('F') image: a separable convolution, horizontal pass first, each output pixel a
  // normalised window of the filter stretched by the reduction factor
  const sinc = x => { if (x === 0) return 1; x *= Math.PI; return Math.sin(x) / x; };
  const FILTERS = {
    box: {support: 0.5, fn: x => (x > -0.5 && x <= 0.5) ? 1 : 0},
    bilinear: {support: 1.0, fn: x => { x = Math.abs(x); return x < 1 ? 1 - x : 0; }},
    lanczos: {support: 3.0, fn: x => (x >= -3 && x < 3) ? sinc(x) * sinc(x / 3) : 0},
  };
  function coefficients(inSize, outSize, filter = FILTERS.lanczos) {
    const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = filter.support * filterscale;
    const out = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(center - support + 0.5));
      const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
      const k = new Float64Array(Math.max(xmax, 0));
      let ww = 0;
      for (let x = 0; x < xmax; x++) { k[x] = filter.fn((x + xmin - center + 0.5) / filterscale); ww += k[x]; }
      if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
      out.push({xmin, k});
    }
    return out;
  }
  function resize(img, outW, outH, filter = FILTERS.lanczos) {
    let {data, h, w} = img;
    if (!(data instanceof Float32Array)) data = Float32Array.from(data);  // np.asarray(image, np.float32)
    if (outW !== w) {
      const cs = coefficients(w, outW, filter), tmp = new Float32Array(h * outW);
      for (let y = 0; y < h; y++) for (let xx = 0; xx < outW; xx++) {
        const {xmin, k} = cs[xx]; let s = 0;
        for (let x = 0; x < k.length; x++) s += data[y * w + x + xmin] * k[x];
        tmp[y * outW + xx] = s;
      }
      data = tmp; w = outW;
    }
    if (outH !== h) {
      const cs = coefficients(h, outH, filter), tmp = new Float32Array(outH * w);
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
    return image(data, h, w);
  }
  const resizeLanczos = (img, outW, outH) => resize(img, outW, outH, FILTERS.lanczos);

  // Image.reduce(f) on 8-bit pixels: each channel's f x f block (smaller at the right and bottom edges) summed,
  // rounded and divided with Pillow's fixed-point arithmetic
  function reducePixels(src, W, H, f, out = null, outRow0 = 0) {
    const w = Math.ceil(W / f), h = Math.ceil(H / f);
    out = out || new Uint8ClampedArray(w * h * 4);
    const sums = new Uint32Array(w * 4), block = new Int32Array(W);
    for (let x = 0; x < W; x++) block[x] = ((x / f) | 0) * 4;
    const mult = n => Math.trunc(f32(4294967296 / f32(256 * n)));
    for (let y = 0; y < h; y++) {
      sums.fill(0);
      const bh = Math.min(f, H - y * f);
      for (let p = y * f * W * 4, end = (y * f + bh) * W * 4; p < end; p += W * 4) {
        for (let x = 0; x < W; x++) {
          const s = block[x], q = p + 4 * x;
          sums[s] += src[q]; sums[s + 1] += src[q + 1]; sums[s + 2] += src[q + 2]; sums[s + 3] += src[q + 3];
        }
      }
      for (let x = 0; x < w; x++) {
        const n = bh * Math.min(f, W - x * f), m = mult(n), amend = n >> 1, o = ((outRow0 + y) * w + x) * 4;
        for (let c = 0; c < 4; c++) out[o + c] = ((sums[4 * x + c] + amend) * m) >>> 24;
      }
    }
    return {data: out, width: w, height: h};
  }

  // ---- preprocess.py, function by function -------------------------------------------------------------------
  const shape = picture => [picture.height, picture.width];  // _shape: (H, W)

  // _grey_and_alpha: grey levels in [0, 1] (0.299 R + 0.587 G + 0.114 B), or the alpha channel when it varies.
  // A picture whose pixels are all grey (R = G = B) is read as Python reads a one-band image, one opaque
  // everywhere as one without alpha (its maximum, which says whether values are 8-bit, left out).
  const W0 = f32(0.299), W1 = f32(0.587), W2 = f32(0.114);
  function greyAndAlpha(picture) {
    const {data, width: w, height: h} = picture, n = w * h;
    let opaque = true, grey = true, hiColor = 0, aLo = 255, aHi = 0;
    for (let i = 0; i < n; i++) {
      const r = data[4 * i], g = data[4 * i + 1], b = data[4 * i + 2], a = data[4 * i + 3];
      if (r !== g || r !== b) grey = false;
      if (r > hiColor) hiColor = r; if (g > hiColor) hiColor = g; if (b > hiColor) hiColor = b;
      if (a < aLo) aLo = a; if (a > aHi) aHi = a;
    }
    opaque = aLo === 255;
    const hi = opaque ? hiColor : Math.max(hiColor, aHi);
    const scale = hi > 1 ? 255 : 1;  // `if hi > 1: a /= 255`
    const level = new Float32Array(256);
    for (let v = 0; v < 256; v++) level[v] = v / scale;
    if (!opaque && f32(level[aHi] - level[aLo]) > f32(0.05)) {  // ink lives in the alpha channel
      const alpha = new Float32Array(n);
      for (let i = 0; i < n; i++) alpha[i] = level[data[4 * i + 3]];
      return {grey: null, alpha: image(alpha, h, w)};
    }
    const out = new Float32Array(n);
    if (grey) for (let i = 0; i < n; i++) out[i] = level[data[4 * i]];
    else {
      const R = level.map(v => f32(v * W0)), G = level.map(v => f32(v * W1)), B = level.map(v => f32(v * W2));
      for (let i = 0; i < n; i++) out[i] = f32(f32(R[data[4 * i]] + G[data[4 * i + 1]]) + B[data[4 * i + 2]]);
    }
    return {grey: image(out, h, w), alpha: null};
  }

  // _border: the pixels along the four edges
  function border({data, h, w}) {
    const out = new data.constructor(2 * w + 2 * h);
    for (let x = 0; x < w; x++) { out[x] = data[x]; out[w + x] = data[(h - 1) * w + x]; }
    for (let y = 0; y < h; y++) { out[2 * w + y] = data[y * w]; out[2 * w + h + y] = data[y * w + w - 1]; }
    return out;
  }

  // _mad: median absolute deviation
  function mad(x) {
    const m = median(x), d = new x.constructor(x.length);
    for (let i = 0; i < x.length; i++) d[i] = Math.abs(x[i] - m);
    return median(d);
  }

  // _paper_median: a median over wide windows on a coarse copy, enlarged back (linear)
  function paperMedian(gray) {
    const {h, w} = gray, s = Math.min(h, w);
    const f = Math.max(1, floorDiv(s, 48));
    const k = Math.max(3, floorDiv(floorDiv(s, PAPER_WINDOW), f)) | 1;
    return zoom(medianFilter(strided(gray, f), k), h, w);
  }

  const flipped = ({data, h, w}) => image(data.map(v => 1 - v), h, w);  // 1 - gray

  // ink_side_up: grey levels turned so that ink is high
  function inkSideUp(gray) {
    const {h, w} = gray, b = border(gray);
    if (Math.min(h, w) < 64) {
      const lo = percentile(gray.data, 0.5), hi = percentile(gray.data, 99.5);
      return median(b) > (lo + hi) / 2 ? flipped(gray) : gray;
    }
    if (mad(b) === 0) {
      const level = median(b), [lo, hi] = ptp(gray.data);
      return f32(level - lo) > f32(hi - level) ? flipped(gray) : gray;
    }
    const paper = paperMedian(gray), diff = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) diff[i] = gray.data[i] - paper.data[i];
    const [lo, hi] = ptp(gaussianFilter(image(diff, h, w), Math.max(1.0, Math.min(h, w) / 300)).data);
    return -lo > hi ? flipped(gray) : gray;
  }

  // paper_under: the paper's level under every pixel (an image), or one level (a number) where it is flat
  function paperUnder(gray) {
    const {h, w} = gray, b = border(gray), level = median(b), s = Math.min(h, w);
    if (s < 64) return level;
    if (mad(b) === 0) return level;
    const f = Math.max(1, floorDiv(s, 100));
    const k = Math.max(3, floorDiv(floorDiv(s, PAPER_WINDOW), f)) | 1;
    const paper = uniformFilter(greyOpening(strided(gray, f), k), k);
    return f > 1 ? zoom(paper, h, w) : paper;
  }

  // block_size: the width of the blocks of a pixelated image; 1 for a smooth one
  function blockSize({data, h, w}) {
    const T = asType(data), lo = T(0.05), hi = T(0.95);
    let grey = 0, same = 0;
    const isGrey = v => v > lo && v < hi;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const v = data[y * w + x];
      if (!isGrey(v)) continue;
      grey++;
      if (x > 0 && isGrey(data[y * w + x - 1]) && data[y * w + x - 1] === v) same++;
    }
    if (grey < 20) return 1;
    return roundHalfEven(grey / Math.max(1, grey - same));
  }

  // unblock: each block back to one pixel (Pillow's BOX resize)
  function unblock(ink, b) {
    const {h, w} = ink;
    return resize(ink, Math.max(1, roundHalfEven(w / b)), Math.max(1, roundHalfEven(h / b)), FILTERS.box);
  }

  // resized(image, (h, w)): Pillow's bilinear resize of a float image
  const resized = (img, h, w, filter = FILTERS.bilinear) => resize(img, w, h, filter);

  // ink_of: paper 0, ink 1, whatever the colours, lighting and resolution; a float32 image
  function inkOf(picture) {
    const {grey, alpha} = greyAndAlpha(picture);
    if (alpha !== null) return alpha;
    const gray = inkSideUp(grey), {h, w} = gray, n = h * w, g = gray.data;
    const paper = paperUnder(gray), noisy = mad(border(gray)) > 0;
    let ink;
    if (typeof paper === 'number') {  // float32 - float, then / np.float64: a float64 image
      const d = Math.max(1 - paper, 1e-6);
      ink = new Float64Array(n);
      for (let i = 0; i < n; i++) ink[i] = Math.min(Math.max(f32(g[i] - paper) / d, 0), 1);
    } else {
      const p = paper.data, eps = f32(1e-6);
      ink = new Float32Array(n);
      for (let i = 0; i < n; i++) ink[i] = Math.min(Math.max(f32(g[i] - p[i]) / Math.max(f32(1 - p[i]), eps), 0), 1);
    }
    let img = image(ink, h, w);
    const b = blockSize(img);
    if (b > 2) return resized(unblock(img, b), h, w);
    if (noisy) {
      img = gaussianFilter(img, Math.max(1.0, Math.min(h, w) / 300));
      const T = asType(img.data), c = 3 * 1.4826 * mad(img.data);
      const floor = T(median(img.data) + T(c)), top = T(1 - floor);
      const d = img.data;
      for (let i = 0; i < n; i++) d[i] = Math.min(Math.max(T(T(d[i] - floor) / top), 0), 1);
    }
    return image(Float32Array.from(img.data), h, w);
  }

  // _factor: how many times smaller the working copy is
  const factor = ([h, w]) => Math.max(1, Math.ceil(Math.min(h, w) / WORK_SIDE));

  // _reduced: the picture f times smaller, each pixel the mean of an f x f block (Pillow's reduce)
  function reduced(picture, f) {
    if (f === 1 && !picture.reduce) return picture;
    if (picture.reduce) return picture.reduce(f);
    return reducePixels(picture.data, picture.width, picture.height, f);
  }

  // _crop: a part of a picture
  function crop(picture, y0, y1, x0, x1) {
    if (picture.crop) return picture.crop(y0, y1, x0, x1);
    const {data, width} = picture, w = x1 - x0, h = y1 - y0, out = new Uint8ClampedArray(w * h * 4);
    for (let y = 0; y < h; y++) out.set(data.subarray(((y + y0) * width + x0) * 4, ((y + y0) * width + x1) * 4), y * w * 4);
    return {data: out, width: w, height: h};
  }

  // _rule_lines: which rows are a ruled line, from each row's share of inked columns
  function ruleLines(cover, longest) {
    const n = cover.length, out = new Uint8Array(n);
    const sum = (a, b) => { let s = 0; for (let i = Math.max(0, a); i < Math.min(n, b); i++) s += cover[i]; return s; };
    for (let a = 0; a < n; a++) {
      if (!(cover[a] >= RULE_SPAN)) continue;
      let b = a;
      while (b < n && cover[b] >= RULE_SPAN) b++;
      if (b - a <= longest && sum(Math.max(0, a - 3), Math.max(0, a - 2)) < 0.5 && sum(b + 2, b + 3) < 0.5) out.fill(1, a, b);
      a = b;
    }
    return out;
  }

  // _without_rules: the mask with thin lines of ink along nearly the whole picture taken out
  function withoutRules(ink, mask, peak) {
    const {data, h, w} = ink, t = f32(0.1 * peak);
    // maximum_filter1d(faint, 5, axis=1).mean(1) and maximum_filter1d(faint, 5, axis=0).mean(0): the share of
    // each row (column) within 2 pixels of a faint pixel along it, counted from the faint pixels alone
    const rowCount = new Float64Array(h), colCount = new Float64Array(w), colEnd = new Int32Array(w).fill(-1);
    for (let y = 0; y < h; y++) {
      let rowEnd = -1;  // the last column counted in this row
      for (let x = 0; x < w; x++) {
        if (!(data[y * w + x] >= t)) continue;
        const x1 = Math.min(w - 1, x + 2), y1 = Math.min(h - 1, y + 2);
        rowCount[y] += x1 - Math.max(rowEnd + 1, x - 2) + 1; rowEnd = x1;
        colCount[x] += y1 - Math.max(colEnd[x] + 1, y - 2) + 1; colEnd[x] = y1;
      }
    }
    const rowCover = rowCount.map(c => c / w), colCover = colCount.map(c => c / h);
    const rows = ruleLines(rowCover, Math.max(3, 0.03 * h)), cols = ruleLines(colCover, Math.max(3, 0.03 * w));
    if (!rows.includes(1) && !cols.includes(1)) return mask;
    const grow = a => a.map((v, i) => v || a[i - 1] || a[i + 1] ? 1 : 0);  // binary_dilation
    const r = grow(rows), c = grow(cols), out = mask.slice();
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (r[y] || c[x]) out[y * w + x] = 0;
    return out;
  }

  // find_digit: the digit's box [y0, y1, x0, x1) and a mask of the other marks; null when there is none
  function findDigit(ink, minSize = MIN_DIGIT) {
    const {data, h, w} = ink;
    let peak = -Infinity;
    for (const v of data) if (v > peak) peak = v;
    if (peak < MIN_PEAK) return null;
    const t = f32(INK_LEVEL * peak), isInk = new Uint8Array(h * w);
    for (let i = 0; i < h * w; i++) isInk[i] = data[i] >= t ? 1 : 0;
    const mask = Math.min(h, w) >= 64 ? withoutRules(ink, isInk, peak) : isInk;
    const {labels, n, boxes, mass} = label(mask, h, w, true, data);  // the marks: groups of touching ink pixels
    if (n === 0) return null;
    const size = boxes.map(([a, b, c, d]) => Math.max(b - a, d - c));
    const order = boxes.map((_, i) => i).sort((i, j) => size[j] - size[i] || mass[j + 1] - mass[i + 1] || i - j);
    let [y0, y1, x0, x1] = boxes[order[0]];
    const keep = new Uint8Array(n + 1);
    keep[order[0] + 1] = 1;
    let grown = true;
    while (grown) {  // ...with every mark near it (a 5's bar, a broken stroke)
      grown = false;
      const m = NEAR * Math.max(y1 - y0, x1 - x0);
      for (const i of order.slice(1)) {
        const [a, b, c, d] = boxes[i];
        if (!keep[i + 1] && a < y1 + m && b > y0 - m && c < x1 + m && d > x0 - m) {
          keep[i + 1] = 1; grown = true;
          y0 = Math.min(y0, a); y1 = Math.max(y1, b); x0 = Math.min(x0, c); x1 = Math.max(x1, d);
        }
      }
    }
    if (Math.max(y1 - y0, x1 - x0) < minSize && h * w > 4 * IMG_SIZE ** 2) return null;  // a speck of dust
    const others = new Uint8Array(h * w);
    for (let i = 0; i < h * w; i++) others[i] = (labels[i] > 0 && !keep[labels[i]]) || (isInk[i] && !mask[i]) ? 1 : 0;
    return {box: [y0, y1, x0, x1], others};
  }

  // _digit_ink: the digit's ink cut out of the picture, other marks wiped out; null when there is no digit
  function digitInk(picture, inkFn = inkOf) {
    const f = factor(shape(picture));
    let inked = inkFn(reduced(picture, f));  // look for the digit in a copy at most WORK_SIDE pixels high
    let found = findDigit(inked, MIN_DIGIT / f);
    if (found === null) return null;
    let [y0, y1, x0, x1] = found.box;
    const s = Math.max(y1 - y0, x1 - x0);
    if (f > 1 && s < FINE_DIGIT) {  // a small digit in a big picture: read it from the full picture
      const [H, W] = shape(picture);
      inked = inkFn(crop(picture, Math.max(0, (y0 - s) * f), Math.min(H, (y1 + s) * f),
                         Math.max(0, (x0 - s) * f), Math.min(W, (x1 + s) * f)));
      if ((found = findDigit(inked)) === null) return null;
    }
    [y0, y1, x0, x1] = found.box;
    const {others} = found, {h, w} = inked, ch = y1 - y0, cw = x1 - x0, out = new Float32Array(ch * cw);
    let any = false;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
      out[(y - y0) * cw + x - x0] = inked.data[y * w + x];
      if (others[y * w + x]) any = true;
    }
    if (any) {  // binary_dilation(others, iterations=2): other marks within 2 steps (4-neighbours) are wiped out
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
        let near = false;
        for (let dy = -2; dy <= 2 && !near; dy++) for (let dx = Math.abs(dy) - 2; dx <= 2 - Math.abs(dy); dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w && others[yy * w + xx]) { near = true; break; }
        }
        if (near) out[(y - y0) * cw + x - x0] = 0;
      }
    }
    return image(out, ch, cw);
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

  // preprocess_digit: a (28 * 28) Float32Array in [0, 1] like an MNIST digit, or null when there is no digit.
  // `picture`: the pad's canvas (an ImageData: its alpha is the ink), or a photo or scan (ImageData or a source)
  function preprocessDigit(picture, maxStroke = MAX_STROKE) {
    const digit = digitInk(picture, inkOf);
    const small = digit === null ? null : fitBox(digit, BOX_SIZE, maxStroke);
    return small === null ? null : center(small);
  }

  return {IMG_SIZE, BOX_SIZE, INK_LEVEL, MIN_PEAK, MAX_STROKE, PAPER_WINDOW, WORK_SIDE, FINE_DIGIT, MIN_DIGIT, NEAR,
          RULE_SPAN, FILTERS, median, percentile, mad, kth, gaussianFilter, uniformFilter, medianFilter, greyErosion,
          greyOpening, zoom, strided, label, resize, resizeLanczos, reducePixels, greyAndAlpha, border, paperMedian,
          inkSideUp, paperUnder, blockSize, unblock, resized, inkOf, inkOfImageData: inkOf, factor, reduced, crop,
          ruleLines, withoutRules, findDigit, digitInk, strokeWidth, fitBox, center, preprocessDigit};
})();
if (typeof module !== 'undefined') module.exports = DigitPreprocess;
