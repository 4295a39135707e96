// The digit pad without a kernel: draw on a canvas, or give it a photo or a scan; preprocess like preprocess_digit
// (preprocess.js), run the course's ONNX model with ONNX Runtime Web (wasm backend), show the answer, the bars and
// what the model sees.
(() => {
  // One pinned ONNX Runtime Web: a local copy (digit-course app serves ./ort/ when it finds one) or the CDN. Each file
  // taken from the CDN is checked against its SHA-384 below before any of them runs; tests/test_web_pad.py checks the
  // hashes against the npm package of this version. (A local copy comes from the server that sent pad.js itself.)
  const ORT_VERSION = '1.30.0';
  const ORT_CDN = `https://cdn.jsdelivr.net/npm/onnxruntime-web@${ORT_VERSION}/dist/`;
  const ORT_SRI = {
    'ort.wasm.min.js': 'sha384-Bw6URI+Gvoadw0do7/QrSHUC9D1vCYYK5OSqChFyhyV5mzPL4oe2rOAFljAnS8Sq',
    'ort-wasm-simd-threaded.mjs': 'sha384-XcXA/MtAf0WpB8e023xQH9CM7RIjiugakT7x99DIwpFf7k56BIFFcAPerIF7FDad',
    'ort-wasm-simd-threaded.wasm': 'sha384-vjBJ1z7qrhkTyYsNqKeF6c7N+nOJSU94czEo+tvZcu8G75JparGq9kB+kTnEUNVM',
  };
  const OFFLINE = `To use the pad offline, install a local copy once (npm install --prefix ~/.cache/digit-course ` +
    `onnxruntime-web@${ORT_VERSION}); digit-course app then serves it.`;
  const MODEL_URL = 'digit_cnn.onnx';
  const UNSURE_BELOW = 0.6;  // as Predictor's default
  const MAX_PIXELS = 50e6;   // the largest picture we read: 50 megapixels take 200 MB once decoded
  const STRIP_PIXELS = 1 << 22;  // a large picture is read in strips of about this many pixels
  const THUMB_SIDE = 112;

  const $ = id => document.getElementById(id);
  const canvas = $('canvas'), ctx = canvas.getContext('2d', {willReadFrequently: true});
  const answer = $('prediction'), bars = $('bars'), preview = $('preview'), timing = $('timing');
  const thumb = $('picture'), pictureView = $('picture-view');
  const state = {strokes: [], stroke: null, pointer: null, session: null, timings: [], last: null, mode: 'canvas',
                 busy: Promise.resolve(), ready: null};

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => resolve(src); s.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.appendChild(s);
    });
  }
  // The bytes of a file of the CDN, once its SHA-384 is the one in ORT_SRI; an Error that says why not otherwise
  async function fetchChecked(name) {
    const url = ORT_CDN + name;
    let bytes;
    try {
      const response = await fetch(url, {credentials: 'omit'});
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      bytes = await response.arrayBuffer();
    } catch (err) { throw new Error(`could not load ${url} (${err.message}). ${OFFLINE}`); }
    if (!(window.crypto && crypto.subtle)) {  // browsers give it to https and localhost pages only
      throw new Error(`cannot check ${url}: this browser computes hashes on https and localhost pages only. ${OFFLINE}`);
    }
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-384', bytes));
    if (`sha384-${btoa(String.fromCharCode(...digest))}` !== ORT_SRI[name]) {
      throw new Error(`${url} is not the file this page was written for (its SHA-384 differs from pad.js's), so it was not run`);
    }
    return bytes;
  }
  async function loadRuntime() {
    try { await loadScript('ort/ort.wasm.min.js'); ort.env.wasm.wasmPaths = new URL('ort/', document.baseURI).href; }
    catch {
      // All three checked before any runs; ONNX Runtime then gets them from memory: the loader as a blob: URL (the
      // page's Content-Security-Policy allows blob: scripts for this), the WebAssembly as bytes
      const [js, mjs, wasm] = await Promise.all(Object.keys(ORT_SRI).map(fetchChecked));
      const blobUrl = bytes => URL.createObjectURL(new Blob([bytes], {type: 'text/javascript'}));
      const script = blobUrl(js);
      try { await loadScript(script); } finally { URL.revokeObjectURL(script); }
      ort.env.wasm.wasmPaths = {mjs: blobUrl(mjs)};
      ort.env.wasm.wasmBinary = new Uint8Array(wasm);
    }
    ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which a static site may not have
    return typeof ort.env.wasm.wasmPaths === 'string' ? 'local' : 'cdn';
  }

  // Drawing, with a mouse, a pen or a finger: the ink goes on a transparent canvas (its alpha is the ink); CSS gives
  // it a white background, and `touch-action: none` keeps a finger on it from scrolling or zooming the page.
  function point(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  }
  function dot([x, y], width) { ctx.beginPath(); ctx.arc(x, y, width / 2, 0, 2 * Math.PI); ctx.fill(); }
  function segment([x0, y0], [x1, y1], width) {
    ctx.lineWidth = width; ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
  }
  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const {width, points} of state.strokes) {
      dot(points[0], width);
      for (let i = 1; i < points.length; i++) segment(points[i - 1], points[i], width);
    }
  }
  ctx.fillStyle = ctx.strokeStyle = 'black'; ctx.lineCap = ctx.lineJoin = 'round';
  canvas.addEventListener('pointerdown', e => {
    if (state.stroke || (e.pointerType === 'mouse' && e.button !== 0)) return;  // one finger draws; a second is ignored
    e.preventDefault(); canvas.setPointerCapture(e.pointerId);
    leavePicture();
    state.pointer = e.pointerId;
    state.stroke = {width: Number($('pen').value), points: [point(e)]};
    dot(state.stroke.points[0], state.stroke.width);
  });
  canvas.addEventListener('pointermove', e => {
    if (!state.stroke || e.pointerId !== state.pointer) return;
    e.preventDefault();
    const p = point(e), pts = state.stroke.points, q = pts[pts.length - 1];
    if (Math.hypot(p[0] - q[0], p[1] - q[1]) < 1) return;
    segment(q, p, state.stroke.width); pts.push(p);
  });
  const penUp = e => {
    if (!state.stroke || e.pointerId !== state.pointer) return;
    state.strokes.push(state.stroke); state.stroke = null; state.pointer = null;
    predict();
  };
  canvas.addEventListener('pointerup', penUp);
  canvas.addEventListener('pointercancel', penUp);
  // Browsers without `touch-action` would still scroll under a finger: the touches on the canvas are ours
  for (const type of ['touchstart', 'touchmove']) canvas.addEventListener(type, e => e.preventDefault(), {passive: false});
  $('undo').addEventListener('click', () => { leavePicture(); state.strokes.pop(); redraw(); predict(); });
  $('clear').addEventListener('click', () => { leavePicture(); state.strokes = []; redraw(); predict(); });

  // Predicting
  async function probsOf(image28) {
    const x = new ort.Tensor('float32', image28, [1, 28, 28, 1]);
    const out = await state.session.run({[state.session.inputNames[0]]: x});
    return Array.from(out[state.session.outputNames[0]].data);
  }
  // The canvas (an ImageData) or a picture (an ImageData, or a source of pixels such as bitmapPicture's)
  async function predictImageData(picture) {
    const image = DigitPreprocess.preprocessDigit(picture);
    if (image === null) return {digit: null, probs: new Array(10).fill(0), image: new Float32Array(784), unsure: false};
    const probs = await probsOf(image);
    const digit = probs.indexOf(Math.max(...probs));
    return {digit, probs, image, unsure: probs[digit] < UNSURE_BELOW};
  }
  const pct = p => `${Math.round(p * 100)}%`;
  function show(r, none = 'Draw a digit') {
    answer.classList.remove('error');
    answer.textContent = r.digit === null ? none
      : r.unsure ? `Unsure: maybe ${r.digit} (${pct(r.probs[r.digit])})` : `Prediction: ${r.digit} (${pct(r.probs[r.digit])})`;
    bars.innerHTML = r.probs.map((p, d) => `<div class="bar${d === r.digit ? ' top' : ''}"><span>${d}</span>` +
      `<span class="fill" style="width:${Math.round(p * 140)}px"></span><span class="p">${pct(p)}</span></div>`).join('');
    const px = preview.getContext('2d'), img = px.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = 255 - Math.round(Math.min(Math.max(r.image[i], 0), 1) * 255);
      img.data.set([v, v, v, 255], 4 * i);
    }
    px.putImageData(img, 0, 0);
  }
  function queue(task) {  // one prediction at a time, in order; a failed one does not stop the next
    const run = state.busy.then(task);
    state.busy = run.catch(() => null);
    return run;
  }
  function predict() {  // the canvas; times pen-up to probabilities
    if (!state.session) return state.busy;
    const t0 = performance.now();
    return queue(async () => {
      const r = await predictImageData(ctx.getImageData(0, 0, canvas.width, canvas.height));
      const ms = performance.now() - t0;
      if (state.mode !== 'canvas') return r;  // a picture was chosen meanwhile: its answer stands
      if (r.digit !== null) { state.timings.push(ms); timing.textContent = `${ms.toFixed(1)} ms from pen-up to answer`; }
      state.last = r; show(r);
      return r;
    });
  }

  // Pictures: a file (an upload, or a photo just taken on a phone), decoded by the browser upright as its EXIF says,
  // checked for size first, read in strips into the working copy preprocess.js asks for, and predicted like a drawing
  class PictureError extends Error {}
  const unreadable = (name, why) => new PictureError(`That file is not a picture we can read (${name}: ${why})`);
  const tooLarge = (w, h) => new PictureError(
    `That picture is ${w}x${h} pixels; the largest we read is ${MAX_PIXELS / 1e6} megapixels`);

  // The format and the declared size of an image file, from its first bytes: [format, width, height] (size null
  // where not found), or null for a file that is none of these formats
  function declaredSize(b) {
    const be16 = i => (b[i] << 8) | b[i + 1], le16 = i => b[i] | (b[i + 1] << 8);
    const be32 = i => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
    const le32 = i => ((b[i + 3] << 24) | (b[i + 2] << 16) | (b[i + 1] << 8) | b[i]) | 0;
    const ascii = (i, n) => String.fromCharCode(...b.subarray(i, i + n));
    if (b.length >= 24 && be32(0) === 0x89504e47) return ['PNG', be32(16), be32(20)];
    if (b.length >= 10 && ascii(0, 3) === 'GIF') return ['GIF', le16(6), le16(8)];
    if (b.length >= 26 && ascii(0, 2) === 'BM') return ['BMP', Math.abs(le32(18)), Math.abs(le32(22))];
    if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
      const chunk = ascii(12, 4);
      if (chunk === 'VP8X') return ['WebP', 1 + (b[24] | b[25] << 8 | b[26] << 16), 1 + (b[27] | b[28] << 8 | b[29] << 16)];
      if (chunk === 'VP8 ') return ['WebP', le16(26) & 0x3fff, le16(28) & 0x3fff];
      if (chunk === 'VP8L') return ['WebP', 1 + (b[21] | (b[22] & 0x3f) << 8), 1 + (b[22] >> 6 | b[23] << 2 | (b[24] & 0xf) << 10)];
      return ['WebP', null, null];
    }
    if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {  // JPEG: the segments up to the frame header (SOFn)
      let i = 2;
      while (i + 9 < b.length && b[i] === 0xff) {
        const m = b[i + 1];
        if (m === 0xff) { i++; continue; }
        if (m === 0xd9) break;  // the end of the image, and no frame header
        if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return ['JPEG', be16(i + 7), be16(i + 5)];
        i += (m >= 0xd0 && m <= 0xd8) || m === 0x01 ? 2 : 2 + be16(i + 2);
      }
      return ['JPEG', null, null];
    }
    return null;
  }

  async function readPicture(file) {  // an ImageBitmap, upright; or a PictureError that says why not
    const name = file.name || 'the picture';
    if (!file.size) throw unreadable(name, 'the file is empty');
    const found = declaredSize(new Uint8Array(await file.slice(0, 1 << 18).arrayBuffer()));
    if (found && found[1] && found[2] && found[1] * found[2] > MAX_PIXELS) throw tooLarge(found[1], found[2]);
    const options = {imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none'};
    let bitmap;
    try {
      try { bitmap = await createImageBitmap(file, options); }
      catch (err) { if (err instanceof TypeError) bitmap = await createImageBitmap(file); else throw err; }  // an older browser
    } catch (err) {
      throw unreadable(name, found ? `the ${found[0]} data is damaged or cut short` : 'not an image format this browser reads');
    }
    if (bitmap.width * bitmap.height > MAX_PIXELS) { bitmap.close(); throw tooLarge(bitmap.width, bitmap.height); }
    return bitmap;
  }

  // A decoded picture as preprocess.js reads it: its size, a copy f times smaller (read a strip at a time, so that a
  // large photo is never one huge canvas) and a part at full size
  function bitmapPicture(bitmap) {
    const {width, height} = bitmap, work = document.createElement('canvas');
    const pixels = (x0, y0, w, h) => {
      work.width = w; work.height = h;
      const c = work.getContext('2d', {willReadFrequently: true});
      c.imageSmoothingEnabled = false;
      c.clearRect(0, 0, w, h);
      c.drawImage(bitmap, x0, y0, w, h, 0, 0, w, h);
      return c.getImageData(0, 0, w, h);
    };
    return {
      width, height,
      reduce(f) {
        if (f === 1) return pixels(0, 0, width, height);
        const w = Math.ceil(width / f), h = Math.ceil(height / f), out = new Uint8ClampedArray(w * h * 4);
        const step = f * Math.max(1, Math.floor(STRIP_PIXELS / (width * f)));
        for (let y = 0; y < height; y += step) {
          const rows = Math.min(step, height - y);
          DigitPreprocess.reducePixels(pixels(0, y, width, rows).data, width, rows, f, out, y / f);
        }
        return {data: out, width: w, height: h};
      },
      crop: (y0, y1, x0, x1) => pixels(x0, y0, x1 - x0, y1 - y0),
    };
  }

  function showThumbnail(bitmap) {
    const s = Math.min(1, THUMB_SIDE / Math.max(bitmap.width, bitmap.height));
    thumb.width = Math.max(1, Math.round(bitmap.width * s)); thumb.height = Math.max(1, Math.round(bitmap.height * s));
    const c = thumb.getContext('2d');
    c.imageSmoothingQuality = 'medium';
    c.drawImage(bitmap, 0, 0, thumb.width, thumb.height);
    pictureView.hidden = false;
  }
  function showError(message) {  // one message, in the status line; the rest of the pad emptied
    show({digit: null, probs: new Array(10).fill(0), image: new Float32Array(784)});
    answer.textContent = message; answer.classList.add('error');
    pictureView.hidden = true; timing.textContent = '';
  }
  function leavePicture() {  // drawing again, Undo or Clear: back to the canvas
    if (state.mode === 'canvas') return;
    state.mode = 'canvas'; pictureView.hidden = true; timing.textContent = '';
  }

  async function pictureChosen(input) {
    const file = input.files && input.files[0], t0 = performance.now();
    input.value = '';  // choosing the same file again is a change too
    if (!file) return;
    state.mode = 'picture'; state.strokes = []; state.stroke = null; redraw();
    answer.classList.remove('error'); answer.textContent = 'Reading the picture…';
    window.digitPad.lastPicture = null;
    return queue(async () => {
      await state.ready;
      if (!state.session) return null;
      let bitmap = null;
      try {
        bitmap = await readPicture(file);
        const r = await predictImageData(bitmapPicture(bitmap));
        if (state.mode !== 'picture') return r;  // drawn on meanwhile: the drawing's answer stands
        show(r, 'No digit found in that picture');
        showThumbnail(bitmap);
        const ms = performance.now() - t0;
        timing.textContent = `${ms.toFixed(0)} ms from picture to answer (${bitmap.width}x${bitmap.height} pixels)`;
        window.digitPad.lastPictureMs = ms;
        window.digitPad.lastPicture = {ms, digit: r.digit, probs: r.probs, image: Array.from(r.image),
                                       width: bitmap.width, height: bitmap.height};
        state.last = r;
        return r;
      } catch (err) {
        if (state.mode === 'picture') showError(err instanceof PictureError ? err.message
                                                : `Could not read that picture (${err.message || err})`);
        window.digitPad.lastPicture = {error: err.message || String(err)};
        return null;
      } finally {
        if (bitmap) bitmap.close();
      }
    });
  }
  for (const id of ['upload', 'camera']) $(id).addEventListener('change', e => pictureChosen(e.target));

  // A made-up 320x240 photo (a dark stroke on noisy, unevenly lit paper) read once while the page is idle, so that
  // the browser has compiled the photo path before the first real picture, and the model has run once
  function warmUp() {
    const w = 320, h = 240, data = new Uint8ClampedArray(w * h * 4);
    let seed = 1;
    const noise = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296 - 0.5; };
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const ink = Math.abs(x - 160 - (y - 120) / 4) < 4 && Math.abs(y - 120) < 70;
      const v = (ink ? 40 : 200 - x / 8) + 12 * noise();
      data.set([v, v * 0.98, v * 0.95, 255], 4 * (y * w + x));
    }
    return queue(async () => { await predictImageData({data, width: w, height: h}); });
  }

  async function start() {
    try {
      const source = await loadRuntime();
      state.session = await ort.InferenceSession.create(MODEL_URL, {executionProviders: ['wasm']});
      if (source === 'cdn') {  // ONNX Runtime has compiled them: the CDN's files need not stay in memory
        URL.revokeObjectURL(ort.env.wasm.wasmPaths.mjs); ort.env.wasm.wasmBinary = undefined;
      }
      window.digitPad.runtime = source;
      if (state.mode === 'canvas') answer.textContent = 'Draw a digit';
      document.body.dataset.ready = 'true';
      setTimeout(warmUp, 0);
    } catch (err) {
      answer.textContent = `Could not load the model: ${err.message || err}`;
      document.body.dataset.ready = 'error';
    }
  }
  // For tests and the curious: the pad's state and its functions
  window.digitPad = {state, predict, predictImageData, probsOf, redraw, ORT_VERSION, ORT_SRI, MAX_PIXELS, runtime: null,
                     timings: state.timings, readPicture, declaredSize, bitmapPicture, pictureChosen, lastPictureMs: null, lastPicture: null,
                     preprocessPicture: picture => DigitPreprocess.preprocessDigit(picture)};
  state.ready = start();
})();
