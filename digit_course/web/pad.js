// The digit pad without a kernel: draw on a canvas, preprocess like preprocess_digit (preprocess.js), run the
// course's ONNX model with ONNX Runtime Web (wasm backend), show the answer, the bars and what the model sees.
(() => {
  // One pinned ONNX Runtime Web: a local copy (digit-course app serves ./ort/ when it finds one) or the CDN,
  // checked against this hash. tests/test_web_pad.py checks both against the npm package of this version.
  const ORT_VERSION = '1.30.0';
  const ORT_CDN = `https://cdn.jsdelivr.net/npm/onnxruntime-web@${ORT_VERSION}/dist/`;
  const ORT_SRI = 'sha384-Bw6URI+Gvoadw0do7/QrSHUC9D1vCYYK5OSqChFyhyV5mzPL4oe2rOAFljAnS8Sq';
  const MODEL_URL = 'digit_cnn.onnx';
  const UNSURE_BELOW = 0.6;  // as Predictor's default

  const $ = id => document.getElementById(id);
  const canvas = $('canvas'), ctx = canvas.getContext('2d', {willReadFrequently: true});
  const answer = $('prediction'), bars = $('bars'), preview = $('preview'), timing = $('timing');
  const state = {strokes: [], stroke: null, session: null, timings: [], last: null, busy: Promise.resolve()};

  function loadScript(src, integrity) {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      if (integrity) { s.integrity = integrity; s.crossOrigin = 'anonymous'; }
      s.onload = () => resolve(src); s.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.appendChild(s);
    });
  }
  async function loadRuntime() {
    let base = 'ort/';
    try { await loadScript(base + 'ort.wasm.min.js'); }
    catch { base = ORT_CDN; await loadScript(base + 'ort.wasm.min.js', ORT_SRI); }
    ort.env.wasm.wasmPaths = new URL(base, document.baseURI).href;
    ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which a static site may not have
    return base === ORT_CDN ? 'cdn' : 'local';
  }

  // Drawing: the ink goes on a transparent canvas (its alpha is the ink); CSS gives it a white background.
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
    e.preventDefault(); canvas.setPointerCapture(e.pointerId);
    state.stroke = {width: Number($('pen').value), points: [point(e)]};
    dot(state.stroke.points[0], state.stroke.width);
  });
  canvas.addEventListener('pointermove', e => {
    if (!state.stroke) return;
    const p = point(e), pts = state.stroke.points, q = pts[pts.length - 1];
    if (Math.hypot(p[0] - q[0], p[1] - q[1]) < 1) return;
    segment(q, p, state.stroke.width); pts.push(p);
  });
  const penUp = () => {
    if (!state.stroke) return;
    state.strokes.push(state.stroke); state.stroke = null;
    predict();
  };
  canvas.addEventListener('pointerup', penUp);
  canvas.addEventListener('pointercancel', penUp);
  $('undo').addEventListener('click', () => { state.strokes.pop(); redraw(); predict(); });
  $('clear').addEventListener('click', () => { state.strokes = []; redraw(); predict(); });

  // Predicting
  async function probsOf(image28) {
    const x = new ort.Tensor('float32', image28, [1, 28, 28, 1]);
    const out = await state.session.run({[state.session.inputNames[0]]: x});
    return Array.from(out[state.session.outputNames[0]].data);
  }
  async function predictImageData(imageData) {
    const image = DigitPreprocess.preprocessDigit(imageData);
    if (image === null) return {digit: null, probs: new Array(10).fill(0), image: new Float32Array(784), unsure: false};
    const probs = await probsOf(image);
    const digit = probs.indexOf(Math.max(...probs));
    return {digit, probs, image, unsure: probs[digit] < UNSURE_BELOW};
  }
  const pct = p => `${Math.round(p * 100)}%`;
  function show(r) {
    answer.textContent = r.digit === null ? 'Draw a digit'
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
  function predict() {  // one prediction at a time, in order; times pen-up to probabilities
    if (!state.session) return state.busy;
    const t0 = performance.now();
    state.busy = state.busy.then(async () => {
      const r = await predictImageData(ctx.getImageData(0, 0, canvas.width, canvas.height));
      const ms = performance.now() - t0;
      if (r.digit !== null) { state.timings.push(ms); timing.textContent = `${ms.toFixed(1)} ms from pen-up to answer`; }
      state.last = r; show(r);
      return r;
    });
    return state.busy;
  }

  async function start() {
    try {
      const source = await loadRuntime();
      state.session = await ort.InferenceSession.create(MODEL_URL, {executionProviders: ['wasm']});
      window.digitPad.runtime = source;
      answer.textContent = 'Draw a digit';
      document.body.dataset.ready = 'true';
    } catch (err) {
      answer.textContent = `Could not load the model: ${err.message || err}`;
      document.body.dataset.ready = 'error';
    }
  }
  // For tests and the curious: the pad's state and its functions
  window.digitPad = {state, predict, predictImageData, probsOf, redraw, ORT_VERSION, ORT_SRI, runtime: null,
                     timings: state.timings};
  start();
})();
