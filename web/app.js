/* Gigafactory dashboard: a single page over the coordinator's JSON API.
 *
 * Plain JavaScript, no build step. The API token is kept in sessionStorage
 * and sent as "Authorization: Bearer TOKEN" on every request. Views are
 * chosen by the URL hash (#/jobs, #/job/ID, #/queue, #/usage); the current
 * view refreshes itself every few seconds and updates its charts in place.
 * A program job's page draws one chart per number its metrics lines carry
 * (the JSON lines it appends to $GF_METRICS), fetched incrementally.
 * Text from the API only ever reaches the page through textContent. */
'use strict';

(function () {
  const TOKEN_KEY = 'gf.token';
  const REFRESH_MS = 2000;
  const USAGE_REFRESH_MS = 10000;
  const LOG_TAIL_CHARS = 256 * 1024;
  const METRIC_CHARTS_MAX = 12;       /* a program job's charts: its first keys */
  const METRIC_LINES_MAX = 20000;     /* metrics lines kept per page: the last ones */
  const METRIC_PAGE = 2000;           /* metrics lines in a status answer at most (api_program.c) */
  const METRIC_PAGES = 5;             /* answers per refresh while they come full */
  const FINAL_STATES = ['succeeded', 'failed', 'cancelled', 'timed-out'];
  const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2',
                   '#db2777', '#65a30d', '#4f46e5', '#ea580c', '#0d9488', '#a16207'];

  const $ = (id) => document.getElementById(id);
  const hasCharts = typeof window.Chart === 'function';

  /* ------------------------------------------------------------------ */
  /* DOM helpers                                                         */

  /* el('td', {className: 'num'}, 'text', child...): strings become text nodes. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === 'dataset') Object.assign(node.dataset, v);
        else if (k in node) node[k] = v;
        else node.setAttribute(k, v);
      }
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function setText(id, value) { $(id).textContent = value === null || value === undefined ? '' : String(value); }
  function show(node, visible) { node.hidden = !visible; }

  function pad(n, w) { return String(n).padStart(w || 2, '0'); }

  /* "2024-05-01T12:00:00.000Z" -> "2024-05-01 14:00:00" in local time. */
  function fmtTime(s) {
    if (!s) return '\u2014';
    const d = new Date(s);
    if (isNaN(d.getTime())) return String(s);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function timeCell(s) {
    return el('td', { className: 'nowrap', title: s ? String(s) : undefined }, fmtTime(s));
  }

  function isNum(v) { return typeof v === 'number' && isFinite(v); }

  function fmtNum(v, digits) {
    if (!isNum(v)) return '\u2014';
    if (digits === undefined) digits = 4;
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2).replace(/\.?0+e/, 'e');
    return Number(v.toPrecision(digits)).toString();
  }

  function fmtPct(v) { return isNum(v) ? (v * 100).toFixed(1) + '%' : '\u2014'; }

  /* seconds as hours: 3 significant digits, no exponent ("0.000583", "12.3", "4,210") */
  function fmtHours(seconds) {
    if (!isNum(seconds)) return '\u2014';
    const h = seconds / 3600;
    if (Math.abs(h) >= 1000) return Math.round(h).toLocaleString('en-US');
    return Number(h.toPrecision(3)).toString();
  }

  function fmtDuration(s) {
    if (!isNum(s)) return '\u2014';
    s = Math.round(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + pad(s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + pad(Math.floor((s % 3600) / 60)) + ' min';
    const h = Math.floor((s % 86400) / 3600);
    return Math.floor(s / 86400) + ' d' + (h ? ' ' + h + ' h' : '');
  }

  function fmtBytes(b) {
    if (!isNum(b)) return '\u2014';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(b) >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return (i === 0 ? String(b) : b.toFixed(1)) + ' ' + units[i];
  }

  function fmtMemMb(mb) { return isNum(mb) ? fmtBytes(mb * 1024 * 1024) : '\u2014'; }

  function badge(state) {
    const s = String(state || 'unknown');
    return el('span', { className: 'badge badge-' + s.replace(/[^a-z-]/g, '') }, s);
  }

  function setBadge(node, state) {
    const s = String(state || 'unknown');
    node.className = 'badge badge-' + s.replace(/[^a-z-]/g, '');
    node.textContent = s;
  }

  /* [done, total, unit] of a job: rounds for federated jobs, epochs for central
   * ones, the last step of its metrics lines for a program job (no total). */
  function progressOf(job) {
    if (job.kind === 'federated') return [job.round || 0, job.rounds_total || 0, 'round'];
    if (job.kind === 'program') return [isNum(job.step) ? job.step : null, 0, 'step'];
    return [job.epoch || 0, job.epochs_total || 0, 'epoch'];
  }

  function progressBar(job) {
    const [done, total, unit] = progressOf(job);
    let pct = total > 0 ? Math.max(0, Math.min(100, (100 * done) / total)) : 0;
    if (total === 0 && FINAL_STATES.indexOf(job.state) >= 0 && job.state !== 'cancelled') pct = 100;
    const fill = el('div', { className: 'progress-fill' });
    fill.style.width = pct.toFixed(1) + '%';
    if (job.state === 'failed' || job.state === 'timed-out') fill.classList.add('progress-bad');
    else if (job.state === 'succeeded') fill.classList.add('progress-done');
    return el('div', { className: 'progress', title: total > 0 ? unit + ' ' + done + ' of ' + total
                                                           : isNum(done) ? 'last ' + unit + ' ' + done : 'no ' + unit + ' yet' },
      el('div', { className: 'progress-track' }, fill),
      el('span', { className: 'progress-label' }, total > 0 ? unit + ' ' + done + '/' + total
        : isNum(done) && unit === 'step' ? 'step ' + fmtNum(done) : '\u2014'));
  }

  function jobHref(id) { return '#/job/' + encodeURIComponent(String(id)); }

  function tenantColor(name, all) {
    const i = all.indexOf(name);
    return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
  }

  /* ------------------------------------------------------------------ */
  /* API                                                                 */

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  /* fetch with the token; JSON errors become ApiError(status, error). */
  async function api(path, opts) {
    opts = opts || {};
    const headers = { Authorization: 'Bearer ' + (token() || '') };
    const init = { method: opts.method || 'GET', headers: headers, cache: 'no-store' };
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'cannot reach the coordinator (' + (e && e.message ? e.message : e) + ')');
    }
    if (!res.ok) {
      let message = res.statusText || 'request failed';
      let text = '';
      try { text = await res.text(); } catch (e) { /* keep the status text */ }
      try {
        const j = JSON.parse(text);
        if (j && typeof j.error === 'string') message = j.error;
      } catch (e) {
        if (text) message = text.slice(0, 300);
      }
      throw new ApiError(res.status, message);
    }
    if (opts.as === 'text') return res.text();
    if (opts.as === 'blob') return res.blob();
    return res.json();
  }

  /* ------------------------------------------------------------------ */
  /* Errors                                                              */

  let errorSource = null; /* 'refresh' errors clear on the next good refresh; 'action' ones stay */

  function describe(err, context) {
    const msg = err instanceof ApiError
      ? err.message + (err.status ? ' (HTTP ' + err.status + ')' : '')
      : String(err && err.message ? err.message : err);
    return context ? context + ': ' + msg : msg;
  }

  function showError(err, context, source) {
    setText('error-text', describe(err, context));
    errorSource = source || 'action';
    show($('error'), true);
  }

  function clearError(source) {
    if (source && errorSource !== source) return;
    errorSource = null;
    setText('error-text', '');
    show($('error'), false);
  }

  /* ------------------------------------------------------------------ */
  /* Charts                                                              */

  function baseOptions(extra) {
    const o = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 12 } } },
      scales: {
        x: { offset: true, grid: { display: false }, title: { display: true, text: '' } },
        y: { grid: { color: '#eef0f4' }, title: { display: false, text: '' } },
      },
    };
    return Object.assign(o, extra || {});
  }

  function makeChart(canvas, type, options) {
    if (!hasCharts) return null;
    return new window.Chart(canvas, { type: type, data: { labels: [], datasets: [] }, options: options });
  }

  /* Puts labels and series into an existing chart without re-creating it:
   * series = [{label, data, color, ...dataset options}]. */
  function setSeries(chart, labels, series) {
    if (!chart) return;
    chart.data.labels = labels;
    const ds = chart.data.datasets;
    const same = ds.length === series.length && ds.every((d, i) => d.label === series[i].label);
    if (same) {
      series.forEach((s, i) => { ds[i].data = s.data; });
    } else {
      chart.data.datasets = series.map((s) => {
        const d = Object.assign({}, s);
        delete d.color;
        d.borderColor = s.color;
        d.backgroundColor = s.bg || s.color;
        delete d.bg;
        return d;
      });
    }
    chart.update('none');
  }

  function lineSeries(label, data, color) {
    return { label: label, data: data, color: color, bg: color + '22', borderWidth: 2, pointRadius: 3,
             pointHoverRadius: 5, tension: 0.25, spanGaps: true };
  }

  function numOrNull(v) { return isNum(v) ? v : null; }

  /* Lets the y axis hug the data (a single point otherwise gets a range of
   * +-1 around it): suggested bounds a little outside the values, within
   * [floor, ceil]. */
  function fitY(chart, series, floor, ceil) {
    if (!chart) return;
    const values = [].concat(...series.map((s) => s.data)).filter(isNum);
    const y = chart.options.scales.y;
    if (!values.length) { delete y.suggestedMin; delete y.suggestedMax; return; }
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const pad = Math.max((hi - lo) * 0.1, Math.abs(hi) * 0.05, 1e-3);
    y.suggestedMin = floor === undefined ? lo - pad : Math.max(floor, lo - pad);
    y.suggestedMax = ceil === undefined ? hi + pad : Math.min(ceil, hi + pad);
  }

  if (hasCharts) {
    const Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 12;
    Chart.defaults.color = '#5b6472';
  }

  /* ------------------------------------------------------------------ */
  /* Views. Each has reset() (forget what it shows), enter(route) and
   * refresh(route, live) where live() is false once the user navigated away. */

  const jobsView = {
    interval: REFRESH_MS,
    reset() {
      $('jobs-body').replaceChildren();
      $('jobs-summary').replaceChildren();
      show($('jobs-empty'), false);
    },
    enter() {},
    async refresh(route, live) {
      const data = await api('/v1/jobs');
      if (!live()) return;
      const jobs = (data.jobs || []).slice().sort((a, b) => Number(b.id) - Number(a.id));
      const rows = jobs.map((j) => {
        const tr = el('tr', { className: 'row-link', dataset: { jobId: String(j.id) } },
          el('td', { className: 'mono' }, el('a', { href: jobHref(j.id) }, String(j.id))),
          el('td', { className: 'job-name' }, el('a', { href: jobHref(j.id) }, j.name || '(unnamed)')),
          el('td', null, j.kind || ''),
          el('td', null, j.tenant || '\u2014'),
          el('td', null, badge(j.state)),
          el('td', { className: 'reason' }, j.reason || ''),
          el('td', { className: 'col-progress' }, progressBar(j)),
          timeCell(j.created_at));
        return tr;
      });
      $('jobs-body').replaceChildren(...rows);
      show($('jobs-empty'), jobs.length === 0);
      const counts = {};
      for (const j of jobs) counts[j.state] = (counts[j.state] || 0) + 1;
      $('jobs-summary').replaceChildren(...['running', 'queued', 'succeeded', 'failed', 'cancelled', 'timed-out']
        .filter((s) => counts[s])
        .map((s) => el('span', { className: 'summary-item' }, badge(s), ' ' + counts[s])));
    },
  };

  const jobView = {
    interval: REFRESH_MS,
    id: null,
    job: null,
    logStream: null,
    charts: { loss: null, accuracy: null, sites: null },
    metricCharts: new Map(),   /* a program job's: key -> {card, chart} */

    reset() {
      this.id = null;
      this.job = null;
      this.logStream = null;
      this.roundsOf = null;
      this.metricsOf = null;
      this.clearMetricCharts();
      setText('program-count', '');
      show($('panel-program'), false);
      show($('panel-curves'), true);
      show($('job-detail'), false);
      for (const id of ['job-title', 'job-id', 'job-kind', 'job-tenant', 'job-reason', 'job-created',
                        'job-updated', 'site-round', 'dp-text', 'dp-params', 'job-logs']) setText(id, '');
      $('job-state').className = 'badge';
      $('job-state').textContent = '';
      $('job-progress').replaceChildren();
      $('site-names').replaceChildren();
      $('state-log-body').replaceChildren();
      $('job-resources').replaceChildren();
      $('job-usage').replaceChildren();
      show($('panel-fed'), false);
      show($('panel-site-eval'), false);
      show($('panel-central'), false);
      show($('dp-budget'), false);
      show($('job-logs'), false);
      show($('log-hide'), false);
      show($('cancel-job'), false);
      show($('download-model'), true);
      for (const b of document.querySelectorAll('.tab')) b.classList.remove('active');
      for (const c of Object.values(this.charts)) if (c) setSeries(c, [], []);
    },

    enter(route) {
      if (this.id !== route.id) this.reset();
      this.id = route.id;
      setText('job-id', route.id);
    },

    ensureCharts(kind) {
      const unit = kind === 'federated' ? 'round' : 'epoch';
      if (!this.charts.loss) {
        this.charts.loss = makeChart($('chart-loss'), 'line', baseOptions());
      }
      if (!this.charts.accuracy) {
        const o = baseOptions();
        o.scales.y.ticks = { callback: (v) => (v * 100).toFixed(1).replace(/\.0$/, '') + '%' };
        o.plugins.tooltip = { callbacks: { label: (c) => c.dataset.label + ': ' + fmtPct(c.parsed.y) } };
        this.charts.accuracy = makeChart($('chart-accuracy'), 'line', o);
      }
      if (kind === 'federated' && !this.charts.sites) {
        const o = baseOptions();
        o.plugins.legend = { display: false };
        o.scales.y.beginAtZero = true;
        o.scales.y.ticks = { precision: 0 };
        o.scales.x.title.text = 'round';
        this.charts.sites = makeChart($('chart-sites'), 'bar', o);
      }
      for (const c of [this.charts.loss, this.charts.accuracy]) {
        if (c && c.options.scales.x.title.text !== unit) c.options.scales.x.title.text = unit;
      }
    },

    async refresh(route, live) {
      const id = route.id;
      /* Rounds are fetched once, then only the ones not seen yet (rounds_after):
       * a long job's page stays cheap to refresh. */
      if (this.roundsOf !== id) { this.roundsOf = id; this.rounds = []; this.siteEval = {}; }
      /* A program job's metrics lines likewise: the file's last lines first,
       * then those after the byte cursor the previous answer gave. */
      if (this.metricsOf !== id) { this.metricsOf = id; this.metrics = []; this.metricsNext = null; this.metricsSeen = 0; }
      const seen = this.rounds.length ? this.rounds[this.rounds.length - 1].round : 0;
      const cursor = this.metricsNext;
      const path = '/v1/jobs/' + encodeURIComponent(id) +
        (seen ? '?rounds_after=' + seen : '?rounds_limit=1000000000') +
        (isNum(cursor) ? '&metrics_after=' + cursor : '');
      const job = await api(path);
      if (!live()) return;
      if (this.roundsOf !== id || this.metricsOf !== id) return;
      for (const r of job.rounds || []) if (r.round > seen) this.rounds.push(r);
      job.rounds = this.rounds;
      if (job.kind === 'program') {
        this.takeMetrics(job, cursor);
        /* a program that writes faster than a page a refresh: more pages now */
        for (let more = job, i = 1; i < METRIC_PAGES && (more.metrics || []).length >= METRIC_PAGE &&
             isNum(this.metricsNext); i++) {
          const at = this.metricsNext;
          more = await api('/v1/jobs/' + encodeURIComponent(id) + '?rounds_limit=1&metrics_after=' + at);
          if (!live() || this.metricsOf !== id) return;
          this.takeMetrics(more, at);
        }
      }
      /* per-site evaluations come for the rounds of the window and the one
       * before it (its sites report during the next round): kept by round */
      for (const e of job.site_eval || []) this.siteEval[e.round] = e;
      job.site_eval = Object.values(this.siteEval).sort((a, b) => a.round - b.round);
      this.job = job;
      this.render(job);
      if (this.logStream) await this.loadLogs(live);
    },

    /* Adds the metrics lines of a status answer to those kept: appended when
     * the answer continues at our cursor, else (the first answer, a file
     * rewritten) in their place. Each line's x: its "step", else its index. */
    takeMetrics(job, cursor) {
      const lines = Array.isArray(job.metrics) ? job.metrics : [];
      if (!isNum(cursor) || job.metrics_from !== cursor) { this.metrics = []; this.metricsSeen = 0; }
      for (const m of lines) {
        if (!m || typeof m !== 'object' || Array.isArray(m)) continue;
        this.metrics.push({ x: isNum(m.step) ? m.step : this.metricsSeen, m: m });
        this.metricsSeen++;
      }
      if (this.metrics.length > METRIC_LINES_MAX) this.metrics.splice(0, this.metrics.length - METRIC_LINES_MAX);
      this.metricsNext = isNum(job.metrics_next) ? job.metrics_next : null;
    },

    clearMetricCharts() {
      for (const { chart } of this.metricCharts.values()) if (chart) chart.destroy();
      this.metricCharts.clear();
      $('program-charts').replaceChildren();
    },

    /* One line chart per numeric key but "step", in the order keys first
     * appear (the first METRIC_CHARTS_MAX), updated in place. */
    renderProgram() {
      const lines = this.metrics || [];
      const keys = [];
      const seenKeys = new Set();
      let hasStep = false;
      for (const { m } of lines) {
        if (isNum(m.step)) hasStep = true;
        for (const k of Object.keys(m)) {
          if (k === 'step' || seenKeys.has(k) || !isNum(m[k])) continue;
          seenKeys.add(k);
          keys.push(k);
        }
      }
      const shown = keys.slice(0, METRIC_CHARTS_MAX);
      for (const [k, c] of this.metricCharts) {
        if (shown.indexOf(k) >= 0) continue;
        if (c.chart) c.chart.destroy();
        c.card.remove();
        this.metricCharts.delete(k);
      }
      show($('program-empty'), lines.length === 0);
      setText('program-count', lines.length ? '(' + lines.length.toLocaleString('en-US') +
        (lines.length === 1 ? ' line' : ' lines') + ')' : '');
      const note = $('program-note');
      note.textContent = keys.length > shown.length
        ? (keys.length - shown.length) + ' more numbers not charted: ' + keys.slice(shown.length, shown.length + 5).join(', ') +
          (keys.length - shown.length > 5 ? ', \u2026' : '')
        : '';
      show(note, keys.length > shown.length);
      shown.forEach((k, i) => {
        let c = this.metricCharts.get(k);
        if (!c) {
          const canvas = el('canvas', { dataset: { metric: k } });
          const card = el('div', { className: 'card' }, el('h2', { className: 'chart-title' }, k),
            el('div', { className: 'chart-box' }, canvas));
          $('program-charts').append(card);
          const o = baseOptions();
          o.plugins.legend = { display: false };
          o.scales.x.type = 'linear';
          o.scales.x.offset = false;
          o.scales.x.grid = { color: '#eef0f4' };
          c = { card: card, chart: makeChart(canvas, 'line', o) };
          this.metricCharts.set(k, c);
        }
        const pts = [];
        for (const { x, m } of lines) if (isNum(m[k])) pts.push({ x: x, y: m[k] });
        const s = lineSeries(k, pts, PALETTE[i % PALETTE.length]);
        if (pts.length > 200) { s.pointRadius = 0; s.tension = 0; }
        if (c.chart) {
          c.chart.options.scales.x.title.text = hasStep ? 'step' : 'line';
          c.chart.options.scales.x.ticks = pts.every((p) => Number.isInteger(p.x)) ? { precision: 0 } : {};
          fitY(c.chart, [{ data: pts.map((p) => p.y) }]);
        }
        setSeries(c.chart, [], [s]);
      });
    },

    render(job) {
      const fed = job.kind === 'federated';
      const prog = job.kind === 'program';
      show($('job-detail'), true);
      setText('job-title', job.name || '(unnamed)');
      setText('job-id', job.id);
      setBadge($('job-state'), job.state);
      setText('job-kind', job.kind);
      setText('job-tenant', job.tenant || '\u2014');
      setText('job-reason', job.reason || '\u2014');
      $('job-progress').replaceChildren(progressBar(job));
      setText('job-created', fmtTime(job.created_at));
      setText('job-updated', fmtTime(job.updated_at));
      show($('cancel-job'), FINAL_STATES.indexOf(job.state) < 0);

      show($('panel-fed'), fed);
      show($('panel-central'), !fed);
      show($('panel-curves'), !prog);
      show($('panel-program'), prog);
      show($('download-model'), !prog);      /* a program's outputs: gf download */
      this.ensureCharts(job.kind);

      if (fed) {
        const rounds = job.rounds || [];
        const labels = rounds.map((r) => r.round);
        setText('chart-loss-title', 'Training loss per round');
        setText('chart-accuracy-title', 'Accuracy per round');
        const byRound = {};
        for (const e of job.site_eval || []) byRound[e.round] = e.weighted || {};
        const acc = [lineSeries('accuracy', rounds.map((r) => numOrNull(r.accuracy)), PALETTE[1])];
        if ((job.site_eval || []).length)
          acc.push(lineSeries('at the sites (weighted)', rounds.map((r) => numOrNull((byRound[r.round] || {}).accuracy)), PALETTE[2]));
        this.plot(labels,
          [lineSeries('train loss', rounds.map((r) => numOrNull(r.train_loss)), PALETTE[0])], acc);
        this.renderSiteEval(job.site_eval || []);
        setSeries(this.charts.sites, labels, [{ label: 'sites', data: rounds.map((r) => numOrNull(r.sites)),
          color: PALETTE[3], bg: PALETTE[3] + 'bb', borderWidth: 0, borderRadius: 3, maxBarThickness: 28 }]);
        this.renderSites(rounds);
        this.renderDp(job.dp);
        this.renderSiteDp(job.site_dp || []);
      } else if (prog) {
        this.renderProgram();
        this.renderResources(job.resources, job.usage);
        show($('dp-budget'), false);
        show($('site-dp'), false);
      } else {
        const epochs = job.epochs || [];
        const labels = epochs.map((e) => e.epoch);
        setText('chart-loss-title', 'Loss per epoch');
        setText('chart-accuracy-title', 'Test accuracy per epoch');
        this.plot(labels, [
          lineSeries('train loss', epochs.map((e) => numOrNull(e.train_loss)), PALETTE[0]),
          lineSeries('test loss', epochs.map((e) => numOrNull(e.test_loss)), PALETTE[2])],
          [lineSeries('test accuracy', epochs.map((e) => numOrNull(e.test_accuracy)), PALETTE[1])]);
        this.renderResources(job.resources, job.usage);
        show($('dp-budget'), false);
        show($('site-dp'), false);
      }
      this.renderStateLog(job.state_log || []);
    },

    plot(labels, loss, accuracy) {
      fitY(this.charts.loss, loss, 0);
      fitY(this.charts.accuracy, accuracy, 0, 1);
      setSeries(this.charts.loss, labels, loss);
      setSeries(this.charts.accuracy, labels, accuracy);
    },

    renderSites(rounds) {
      const last = rounds.length ? rounds[rounds.length - 1] : null;
      const names = last && Array.isArray(last.site_names) ? last.site_names : [];
      setText('site-round', last ? '(round ' + last.round + ')' : '');
      const items = names.map((n) => el('li', { className: 'chip' }, n));
      if (!items.length) items.push(el('li', { className: 'muted' }, last ? 'No site names reported.' : 'No round has completed yet.'));
      $('site-names').replaceChildren(...items);
    },

    renderSiteEval(evals) {
      const last = evals.length ? evals[evals.length - 1] : null;
      show($('panel-site-eval'), !!last);
      if (!last) { $('site-eval-body').replaceChildren(); return; }
      setText('site-eval-round', '(global model after round ' + last.round + ')');
      const row = (name, e, cls) => el('tr', cls ? { className: cls } : null,
        el('td', null, name), el('td', null, fmtNum(e.samples)), el('td', null, fmtNum(e.loss, 4)),
        el('td', null, fmtPct(e.accuracy)), el('td', null, isNum(e.auc) ? fmtNum(e.auc, 3) : '\u2014'),
        el('td', null, fmtPct(e.sensitivity)), el('td', null, fmtPct(e.specificity)));
      $('site-eval-body').replaceChildren(...(last.sites || []).map((e) => row(e.site, e)),
        row('weighted by test samples', last.weighted || {}, 'total'));
    },

    renderDp(dp) {
      show($('dp-budget'), !!dp);
      if (!dp) return;
      const bar = $('dp-bar');
      const eps = dp.epsilon;
      const budget = dp.budget;
      if (isNum(eps) && isNum(budget) && budget > 0) {
        const frac = Math.max(0, Math.min(1, eps / budget));
        bar.style.width = (100 * frac).toFixed(1) + '%';
        bar.className = 'meter-fill' + (frac >= 0.9 ? ' meter-high' : frac >= 0.7 ? ' meter-mid' : '');
        setText('dp-text', '\u03b5 = ' + fmtNum(eps) + ' spent of ' + fmtNum(budget) + ' (' + (100 * frac).toFixed(0) + '%)');
      } else {
        bar.style.width = '0%';
        bar.className = 'meter-fill';
        setText('dp-text', '\u03b5 = ' + fmtNum(eps) + ' spent, no budget set');
      }
      const parts = [];
      if (isNum(dp.delta)) parts.push('\u03b4 = ' + fmtNum(dp.delta));
      if (isNum(dp.noise)) parts.push('noise \u03c3 = ' + fmtNum(dp.noise));
      if (isNum(dp.clip)) parts.push('clip = ' + fmtNum(dp.clip));
      setText('dp-params', parts.join(' \u00b7 '));
    },

    renderSiteDp(list) {
      show($('site-dp'), list.length > 0);
      $('site-dp-list').replaceChildren(...list.map((e) => el('li', null,
        e.site + ': \u03b5 = ' + (isNum(e.epsilon) ? fmtNum(e.epsilon) : '\u221e') +
        ' at \u03b4 = ' + fmtNum(e.delta) + ' after round ' + e.round)));
    },

    renderResources(res, usage) {
      const kv = (k, v) => [el('dt', null, k), el('dd', null, v)];
      res = res || {};
      $('job-resources').replaceChildren(
        ...kv('Cores', fmtNum(res.cores)),
        ...kv('GPUs', fmtNum(res.gpus)),
        ...kv('Memory', fmtMemMb(res.memory_mb)),
        ...kv('Time limit', fmtDuration(res.time_limit_s)));
      if (!usage) {
        $('job-usage').replaceChildren(el('dt', { className: 'muted' }, 'Reported when the job ends.'));
        return;
      }
      $('job-usage').replaceChildren(
        ...kv('Core-hours', fmtHours(usage.core_s)),
        ...kv('GPU-hours', fmtHours(usage.gpu_s)),
        ...kv('Peak memory', fmtMemMb(usage.peak_mem_mb)),
        ...kv('Wall time', fmtDuration(usage.wall_s)));
    },

    renderStateLog(log) {
      const rows = log.map((e) => el('tr', null,
        timeCell(e.at),
        el('td', null, e.from ? badge(e.from) : '\u2014'),
        el('td', null, badge(e.to)),
        el('td', { className: 'reason' }, e.reason || '')));
      if (!rows.length) rows.push(el('tr', null, el('td', { colSpan: 4, className: 'muted' }, 'No transitions yet.')));
      $('state-log-body').replaceChildren(...rows);
    },

    async loadLogs(live) {
      const stream = this.logStream;
      const pre = $('job-logs');
      let text;
      try {
        text = await api('/v1/jobs/' + encodeURIComponent(this.id) + '/logs?stream=' + stream, { as: 'text' });
      } catch (e) {
        if (!live() || stream !== this.logStream) return;
        pre.textContent = '';
        throw Object.assign(e, { context: 'Logs (' + stream + ')' });
      }
      if (!live() || stream !== this.logStream) return;
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      const shown = text.length > LOG_TAIL_CHARS ? '\u2026' + text.slice(-LOG_TAIL_CHARS) : text;
      if (pre.textContent !== shown) {
        pre.textContent = shown || '(empty)';
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
    },
  };

  const queueView = {
    interval: REFRESH_MS,
    chart: null,
    reset() {
      $('queue-body').replaceChildren();
      $('fairshare-body').replaceChildren();
      setText('fairshare-halflife', '');
      show($('queue-empty'), false);
      if (this.chart) setSeries(this.chart, [], []);
    },
    enter() {},
    async refresh(route, live) {
      if (!me || me.role !== 'operator') {
        throw Object.assign(new Error('the queue is visible to operators only'), { final: true });
      }
      const [queue, fs] = await Promise.all([api('/v1/queue'), api('/v1/fairshare')]);
      if (!live()) return;
      const jobs = queue.jobs || [];
      $('queue-body').replaceChildren(...jobs.map((j, i) => {
        const f = j.factors || {};
        const r = j.resources || {};
        const res = [];
        if (isNum(r.cores)) res.push(r.cores + (r.cores === 1 ? ' core' : ' cores'));
        if (isNum(r.gpus) && r.gpus > 0) res.push(r.gpus + (r.gpus === 1 ? ' GPU' : ' GPUs'));
        if (isNum(r.memory_mb)) res.push(fmtMemMb(r.memory_mb));
        return el('tr', { dataset: { jobId: String(j.id) } },
          el('td', { className: 'muted' }, String(i + 1)),
          el('td', null, el('a', { href: jobHref(j.id) }, '#' + j.id + ' ' + (j.name || ''))),
          el('td', null, j.tenant || '\u2014'),
          el('td', null, badge(j.state)),
          el('td', { className: 'num strong' }, fmtNum(j.priority)),
          el('td', { className: 'num' }, fmtNum(f.age)),
          el('td', { className: 'num' }, fmtNum(f.fairshare)),
          el('td', { className: 'nowrap' }, res.join(' \u00b7 ') || '\u2014'),
          el('td', { className: 'reason' }, j.reason || ''));
      }));
      show($('queue-empty'), jobs.length === 0);

      const tenants = (fs.tenants || []).slice().sort((a, b) => (a.rank || 0) - (b.rank || 0));
      setText('fairshare-halflife', isNum(fs.half_life_s) ? '(usage half-life ' + fmtDuration(fs.half_life_s) + ')' : '');
      $('fairshare-body').replaceChildren(...tenants.map((t) => el('tr', null,
        el('td', { className: 'strong' }, t.tenant),
        el('td', { className: 'num' }, fmtNum(t.shares)),
        el('td', { className: 'num' }, fmtNum(t.norm_shares, 3)),
        el('td', { className: 'num' }, fmtHours(t.usage_core_s)),
        el('td', { className: 'num' }, fmtNum(t.norm_usage, 3)),
        el('td', { className: 'num' }, fmtNum(t.level_fs, 3)),
        el('td', { className: 'num strong' }, fmtNum(t.fairshare, 3)),
        el('td', { className: 'num' }, fmtNum(t.rank)))));

      if (!this.chart) {
        const o = baseOptions();
        o.scales.y.beginAtZero = true;
        o.scales.x.title.text = 'tenant';
        this.chart = makeChart($('fairshare-chart'), 'bar', o);
      }
      setSeries(this.chart, tenants.map((t) => t.tenant), [
        { label: 'normalised shares', data: tenants.map((t) => numOrNull(t.norm_shares)), color: PALETTE[0],
          bg: PALETTE[0] + 'cc', borderWidth: 0, borderRadius: 3, maxBarThickness: 36 },
        { label: 'normalised usage', data: tenants.map((t) => numOrNull(t.norm_usage)), color: PALETTE[2],
          bg: PALETTE[2] + 'cc', borderWidth: 0, borderRadius: 3, maxBarThickness: 36 }]);
    },
  };

  const usageView = {
    interval: USAGE_REFRESH_MS,
    chart: null,
    tenantsSeen: [],
    reset() {
      this.tenantsSeen = [];
      $('usage-totals-body').replaceChildren();
      const sel = $('usage-tenant');
      sel.replaceChildren(el('option', { value: '' }, 'All tenants'));
      sel.disabled = false;
      show($('usage-empty'), false);
      if (this.chart) setSeries(this.chart, [], []);
    },
    enter() {
      const sel = $('usage-tenant');
      if (me && me.role !== 'operator') {
        sel.replaceChildren(el('option', { value: me.tenant || '' }, me.tenant || 'my tenant'));
        sel.disabled = true;
      }
    },
    swatch(tenant) {
      const s = el('span', { className: 'swatch' });
      s.style.background = tenantColor(tenant, this.tenantsSeen);
      return s;
    },
    remember(names) {
      let changed = false;
      for (const n of names) {
        if (n && this.tenantsSeen.indexOf(n) < 0) { this.tenantsSeen.push(n); changed = true; }
      }
      if (!changed) return;
      this.tenantsSeen.sort();
      const sel = $('usage-tenant');
      if (sel.disabled) return;
      const current = sel.value;
      sel.replaceChildren(el('option', { value: '' }, 'All tenants'),
        ...this.tenantsSeen.map((n) => el('option', { value: n }, n)));
      sel.value = current;
    },
    async refresh(route, live) {
      const params = new URLSearchParams();
      const sel = $('usage-tenant');
      if (!sel.disabled && sel.value) params.set('tenant', sel.value);
      const hours = $('usage-since').value;
      const since = hours ? Date.now() - Number(hours) * 3600e3 : null;
      if (since !== null) params.set('since', new Date(since).toISOString());
      const q = params.toString();
      const data = await api('/v1/usage' + (q ? '?' + q : ''));
      if (!live()) return;
      const entries = data.entries || [];
      const totals = (data.totals || []).slice().sort((a, b) => String(a.tenant).localeCompare(String(b.tenant)));
      this.remember(totals.map((t) => t.tenant).concat(entries.map((e) => e.tenant)));
      this.renderChart(entries, since);
      $('usage-totals-body').replaceChildren(...totals.map((t) => el('tr', null,
        el('td', { className: 'strong' }, this.swatch(t.tenant), t.tenant),
        el('td', { className: 'num' }, fmtNum(t.jobs)),
        el('td', { className: 'num' }, fmtHours(t.core_s)),
        el('td', { className: 'num' }, fmtHours(t.gpu_s)),
        el('td', { className: 'num' }, fmtHours(t.wall_s)),
        el('td', { className: 'num' }, fmtBytes(t.bytes_up)),
        el('td', { className: 'num' }, fmtBytes(t.bytes_down)))));
      show($('usage-empty'), totals.length === 0 && entries.length === 0);
    },
    renderChart(entries, since) {
      const HOUR = 3600e3;
      const points = [];
      for (const e of entries) {
        const t = Date.parse(e.ended_at);
        if (!isFinite(t) || !isNum(e.core_s)) continue;
        points.push([t, e.tenant, e.core_s / 3600]);
      }
      const now = Date.now();
      let lo = since !== null ? since : now - 24 * HOUR;
      let hi = now;
      for (const p of points) {
        if (since === null && p[0] < lo) lo = p[0];
        if (p[0] > hi) hi = p[0];
      }
      /* hourly buckets up to a month, daily ones beyond */
      const step = (hi - lo) / HOUR > 24 * 31 ? 24 * HOUR : HOUR;
      const offset = new Date().getTimezoneOffset() * 60e3; /* buckets start at local hours/days */
      const first = Math.floor((lo - offset) / step);
      const last = Math.floor((hi - offset) / step);
      const n = last - first + 1;
      const labels = [];
      for (let i = 0; i < n; i++) {
        const d = new Date((first + i) * step + offset);
        labels.push(step === HOUR
          ? pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':00'
          : d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()));
      }
      const tenants = this.tenantsSeen.filter((t) => points.some((p) => p[1] === t));
      const series = tenants.map((t) => {
        const data = new Array(n).fill(0);
        for (const p of points) {
          if (p[1] !== t) continue;
          const i = Math.floor((p[0] - offset) / step) - first;
          if (i >= 0 && i < n) data[i] += p[2];
        }
        const c = tenantColor(t, this.tenantsSeen);
        return { label: t, data: data.map((v) => Number(v.toPrecision(6))), color: c, bg: c + 'cc',
                 borderWidth: 0, stack: 'core-hours' };
      });
      if (!this.chart) {
        const o = baseOptions();
        o.scales.x.stacked = true;
        o.scales.y.stacked = true;
        o.scales.y.beginAtZero = true;
        o.scales.y.title = { display: true, text: 'core-hours' };
        o.scales.x.ticks = { maxRotation: 0, autoSkip: true, autoSkipPadding: 16 };
        this.chart = makeChart($('usage-chart'), 'bar', o);
      }
      if (this.chart) this.chart.options.scales.x.title.text = step === HOUR ? 'hour' : 'day';
      setText('usage-title', 'Core-hours per ' + (step === HOUR ? 'hour' : 'day') + ', by tenant');
      setSeries(this.chart, labels, series);
    },
  };

  const views = { jobs: jobsView, job: jobView, queue: queueView, usage: usageView };

  /* ------------------------------------------------------------------ */
  /* Session and routing                                                 */

  let me = null;      /* /v1/whoami of the token */
  let gen = 0;        /* bumped on every navigation; stale refreshes check it */
  let timer = null;
  let route = null;

  function parseHash() {
    const parts = location.hash.replace(/^#\/?/, '').split('/');
    if (parts[0] === 'job' && parts[1]) return { view: 'job', id: decodeURIComponent(parts[1]) };
    if (parts[0] === 'queue' || parts[0] === 'usage') return { view: parts[0] };
    return { view: 'jobs' };
  }

  function showSignedIn(signedIn) {
    show($('view-signin'), !signedIn);
    show($('nav'), signedIn);
    show($('account'), signedIn);
    if (!signedIn) for (const name of Object.keys(views)) show($('view-' + name), false);
  }

  function applyRole() {
    const operator = me && me.role === 'operator';
    show($('nav-queue'), operator);
    setText('whoami', me ? (operator ? 'operator' : (me.tenant || '?') + ' \u00b7 member') : '');
    $('whoami').className = 'whoami' + (operator ? ' whoami-operator' : '');
  }

  function stopPolling() {
    gen++;
    clearTimeout(timer);
    timer = null;
  }

  function resetAll() {
    for (const v of Object.values(views)) v.reset();
  }

  function signOut(reason) {
    stopPolling();
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    route = null;
    resetAll();
    for (const c of [...Object.values(jobView.charts), queueView.chart, usageView.chart]) if (c) c.destroy();
    jobView.charts = { loss: null, accuracy: null, sites: null };
    queueView.chart = null;
    usageView.chart = null;
    applyRole();
    showSignedIn(false);
    setText('refresh-status', '');
    if (reason) showError(reason, 'Signed out', 'action'); else clearError();
    $('token').value = '';
    $('token').focus();
  }

  async function signIn(tok) {
    sessionStorage.setItem(TOKEN_KEY, tok);
    try {
      me = await api('/v1/whoami');
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      me = null;
      showSignedIn(false);
      showError(e, e.status === 401 ? 'Sign-in refused' : 'Sign-in failed', 'action');
      return false;
    }
    clearError();
    applyRole();
    showSignedIn(true);
    return true;
  }

  function navigate() {
    stopPolling();
    if (!token() || !me) { showSignedIn(false); return; }
    clearError();
    route = parseHash();
    for (const [name, v] of Object.entries(views)) show($('view-' + name), name === route.view);
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.dataset.view === (route.view === 'job' ? 'jobs' : route.view));
    }
    const view = views[route.view];
    view.enter(route);
    document.title = 'Gigafactory \u00b7 ' + (route.view === 'job' ? 'job ' + route.id : route.view);
    poll(gen);
  }

  async function poll(g) {
    const live = () => g === gen;
    const r = route;
    const view = views[r.view];
    let again = true;
    try {
      await view.refresh(r, live);
      if (!live()) return;
      clearError('refresh');
      setText('refresh-status', 'Updated ' + fmtTime(new Date().toISOString()) + ' \u00b7 refreshing every ' +
        view.interval / 1000 + ' s');
    } catch (e) {
      if (!live()) return;
      if (e instanceof ApiError && e.status === 401) { signOut(e); return; }
      const ctx = e.context || (r.view === 'job' ? 'Job ' + r.id : r.view.charAt(0).toUpperCase() + r.view.slice(1));
      showError(e, ctx, 'refresh');
      /* a job that is not there (or not ours) will not appear by polling */
      if ((e instanceof ApiError && (e.status === 403 || e.status === 404) && !e.context) || e.final) again = false;
      setText('refresh-status', again ? 'Last refresh failed; retrying' : '');
    }
    if (again && live()) timer = setTimeout(() => poll(g), view.interval);
  }

  /* ------------------------------------------------------------------ */
  /* Actions                                                             */

  async function downloadModel() {
    const id = jobView.id;
    if (!id) return;
    const button = $('download-model');
    button.disabled = true;
    const label = button.textContent;
    button.textContent = 'Downloading\u2026';
    try {
      const blob = await api('/v1/jobs/' + encodeURIComponent(id) + '/model', { as: 'blob' });
      const url = URL.createObjectURL(blob);
      const name = ((jobView.job && jobView.job.name) || 'job-' + id).replace(/[^A-Za-z0-9._-]/g, '_');
      const a = el('a', { href: url, download: name + '.safetensors' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { signOut(e); return; }
      showError(e, 'Model of job ' + id, 'action');
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  async function cancelJob() {
    const id = jobView.id;
    if (!id || !window.confirm('Cancel job ' + id + '?')) return;
    try {
      await api('/v1/jobs/' + encodeURIComponent(id) + '/cancel', { method: 'POST', body: {} });
      navigate();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { signOut(e); return; }
      showError(e, 'Cancel job ' + id, 'action');
    }
  }

  function openLogs(stream) {
    jobView.logStream = stream;
    for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.stream === stream);
    const pre = $('job-logs');
    show(pre, !!stream);
    show($('log-hide'), !!stream);
    if (!stream) return;
    pre.textContent = 'Loading\u2026';
    const g = gen;
    jobView.loadLogs(() => g === gen).catch((e) => {
      if (e instanceof ApiError && e.status === 401) { signOut(e); return; }
      if (g === gen) showError(e, e.context, 'action');
    });
  }

  /* ------------------------------------------------------------------ */
  /* Start                                                               */

  function init() {
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const tok = $('token').value.trim();
      if (!tok) { showError('paste an API token first', 'Sign in', 'action'); return; }
      $('sign-in').disabled = true;
      try {
        if (await signIn(tok)) {
          $('token').value = '';
          if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/jobs';
          navigate();
        }
      } finally {
        $('sign-in').disabled = false;
      }
    });
    $('sign-out').addEventListener('click', () => signOut(null));
    $('error-close').addEventListener('click', () => clearError());
    $('download-model').addEventListener('click', downloadModel);
    $('cancel-job').addEventListener('click', cancelJob);
    $('log-stdout').addEventListener('click', () => openLogs('stdout'));
    $('log-stderr').addEventListener('click', () => openLogs('stderr'));
    $('log-hide').addEventListener('click', () => openLogs(null));
    $('usage-tenant').addEventListener('change', () => { if (route && route.view === 'usage') navigate(); });
    $('usage-since').addEventListener('change', () => { if (route && route.view === 'usage') navigate(); });
    $('jobs-body').addEventListener('click', (ev) => {
      if (ev.target.closest('a')) return;
      const tr = ev.target.closest('tr[data-job-id]');
      if (tr) location.hash = jobHref(tr.dataset.jobId);
    });
    window.addEventListener('hashchange', navigate);

    if (!hasCharts) showError('the charting library (/static/chart.min.js) did not load; charts are not shown', 'Dashboard', 'action');

    const tok = token();
    if (!tok) { showSignedIn(false); $('token').focus(); return; }
    signIn(tok).then((ok) => { if (ok) navigate(); else $('token').focus(); });
  }

  init();
})();
