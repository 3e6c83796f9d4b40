// tokenfactory report page: draws the JSON in <script id="tf-data"> with Chart.js (inlined above this script).
// Every number shown comes from the run's own files; nothing is estimated here. When the page has drawn, the
// root element carries data-tf-status="rendered" and data-tf-charts (the number of charts), which the
// browser test reads.
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('tf-data').textContent);
  const root = document.getElementById('report');
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                   '#bcbd22', '#17becf'];
  let chartCount = 0;

  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = '#394150';

  // ---- small helpers --------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = v;
      else if (k === 'cls') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children || []) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return node;
  }
  const isNum = (v) => typeof v === 'number' && isFinite(v);
  function money(v, digits) {
    if (!isNum(v)) return 'n/a';
    return '$' + v.toFixed(digits === undefined ? (Math.abs(v) >= 100 ? 2 : 4) : digits);
  }
  const pct = (v) => (isNum(v) ? (100 * v).toFixed(1) + '%' : 'n/a');
  function secs(v) {
    if (!isNum(v)) return 'n/a';
    if (v === 0) return '0';
    if (Math.abs(v) < 1e-3) return (v * 1e6).toPrecision(3) + ' us';
    if (Math.abs(v) < 1) return (v * 1e3).toPrecision(3) + ' ms';
    if (Math.abs(v) < 120) return v.toPrecision(3) + ' s';
    if (Math.abs(v) < 7200) return (v / 60).toPrecision(3) + ' min';
    return (v / 3600).toPrecision(3) + ' h';
  }
  function count(v) {
    if (!isNum(v)) return 'n/a';
    return Math.round(v).toLocaleString('en-US');
  }
  function num(v, digits) {
    if (!isNum(v)) return 'n/a';
    return Number(v.toPrecision(digits || 4)).toLocaleString('en-US');
  }
  const color = (i) => palette[i % palette.length];

  function section(title, intro) {
    root.appendChild(el('h2', {text: title}));
    if (intro) root.appendChild(el('p', {cls: 'muted', text: intro}));
    const grid = el('div', {cls: 'grid2'});
    root.appendChild(grid);
    return grid;
  }

  // A titled chart box in `parent`; returns the Chart.
  function chart(parent, title, config, note) {
    const canvas = el('canvas');
    const box = el('div', {cls: 'chart'}, [el('h3', {text: title}), el('div', {cls: 'canvas'}, [canvas])]);
    if (note) box.appendChild(el('p', {cls: 'note', text: note}));
    parent.appendChild(box);
    const c = new Chart(canvas.getContext('2d'), config);
    chartCount += 1;
    return c;
  }

  function table(parent, headers, rows) {
    const head = el('tr', {}, headers.map((h) => el('th', {text: h})));
    const body = rows.map((r) => el('tr', {}, r.map((cell) => {
      if (cell instanceof Node) return el('td', {}, [cell]);
      if (cell && typeof cell === 'object') return el('td', {cls: cell.cls || '', text: cell.text});
      return el('td', {text: String(cell)});
    })));
    parent.appendChild(el('div', {cls: 'table-wrap'}, [el('table', {}, [el('thead', {}, [head]), el('tbody', {}, body)])]));
  }

  function tiles(items) {
    root.appendChild(el('div', {cls: 'tiles'}, items.map(([label, value, sub]) =>
      el('div', {cls: 'tile'}, [el('div', {cls: 'label', text: label}), el('div', {cls: 'value', text: value}),
                                 el('div', {cls: 'sub', text: sub || ''})]))));
  }

  // Axis of seconds: logarithmic when the values span more than two decades.
  function secondsAxis(title, values) {
    const pos = values.filter((v) => isNum(v) && v > 0);
    const lo = Math.min(...pos), hi = Math.max(...pos);
    const log = pos.length > 1 && hi / lo > 100;
    return {type: log ? 'logarithmic' : 'linear', title: {display: true, text: title},
            ticks: {callback: (v) => secs(Number(v)), maxTicksLimit: 8}};
  }
  // Simulated time in one unit for the whole axis, chosen from the run's length.
  function timeAxisFor(end) {
    const [scale, unit] = end > 3 * 3600 ? [3600, 'h'] : end > 600 ? [60, 'min'] : [1, 's'];
    // Ticks at round numbers of the unit: 1, 2 or 5 times a power of ten, about eight of them.
    const raw = Math.max(end / scale / 8, 1e-9);
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * pow).find((m) => m >= raw);
    return {type: 'linear', min: 0, title: {display: true, text: 'simulated time (' + unit + ')'},
            ticks: {stepSize: step * scale, callback: (v) => Number((Number(v) / scale).toPrecision(4)).toString()}};
  }
  const fractionAxis = (title) => ({min: 0, max: 1, title: {display: true, text: title},
                                    ticks: {callback: (v) => (100 * v).toFixed(0) + '%'}});

  // Step series over intervals: the value of interval k holds from its start to its end.
  function steps(series, column) {
    const out = [];
    const start = series.interval_start_s, end = series.interval_end_s, v = series[column];
    for (let k = 0; k < end.length; k += 1) {
      if (!isNum(v[k])) continue;
      out.push({x: start[k], y: v[k]});
      out.push({x: end[k], y: v[k]});
    }
    return out;
  }
  function line(label, points, i, extra) {
    return Object.assign({label: label, data: points, showLine: true, borderColor: color(i),
                          backgroundColor: color(i), pointRadius: 0, borderWidth: 2, tension: 0}, extra || {});
  }

  // ---- a run ----------------------------------------------------------------------------------------------
  function renderRun() {
    const r = data.results, s = r.summary;
    root.appendChild(el('h1', {text: data.title}));
    if (data.description) root.appendChild(el('p', {text: data.description}));
    root.appendChild(el('p', {cls: 'meta', text: 'seed ' + r.seed + ' \u00b7 ' + secs(r.simulated_seconds) +
      ' simulated \u00b7 ' + s.accelerators + ' accelerators in ' + s.instances + ' instances \u00b7 results schema ' +
      r.schema_version}));
    tiles([
      ['Cost per million useful tokens', money(s.cost_per_useful_mtok_usd), 'value-weighted tokens within SLO'],
      ['Raw cost per million tokens', money(s.cost_per_mtok_usd), 'all answer tokens produced'],
      ['SLO attainment', pct(s.slo_attainment), count(s.completed) + ' of ' + count(s.requests) + ' completed'],
      ['Output throughput', num(s.output_tokens_per_s) + ' tok/s', count(s.output_tokens) + ' tokens'],
      ['Cost of the interval', money(s.cost_usd), num(s.energy_kwh, 3) + ' kWh'],
      ['Rejected', count(s.rejected), 'requests turned away'],
    ]);

    const classes = Object.keys(r.classes);
    const pools = Object.keys(r.pools);

    // Latency distributions against budgets.
    const lat = section('Latency against budgets',
      'Empirical CDFs over completed requests, one line per class; the dashed vertical line of the same colour is ' +
      'the class budget. TTFT includes the client latency both ways.');
    for (const [metric, label] of [['ttft', 'TTFT (time to first token)'], ['tpot', 'TPOT (time per output token)']]) {
      const datasets = [];
      const all = [];
      classes.forEach((c, i) => {
        const pts = ((data.cdf[c] || {})[metric] || []).map((p) => ({x: p[0], y: p[1]}));
        pts.forEach((p) => all.push(p.x));
        datasets.push(line(c, pts, i));
        const b = (data.budgets[c] || {})[metric];
        if (isNum(b)) {
          all.push(b);
          datasets.push(line(c + ' budget ' + secs(b), [{x: b, y: 0}, {x: b, y: 1}], i,
                             {borderDash: [6, 4], borderWidth: 1.5}));
        }
      });
      chart(lat, label, {type: 'scatter', data: {datasets: datasets},
        options: {scales: {x: secondsAxis(metric.toUpperCase(), all), y: fractionAxis('share of requests')},
                  plugins: {tooltip: {callbacks: {label: (ctx) => ctx.dataset.label + ': ' + secs(ctx.parsed.x) +
                    ' at ' + pct(ctx.parsed.y)}}}}});
    }

    // Over simulated time.
    if (data.timeseries && data.timeseries.length) {
      const byScope = (scope) => data.timeseries.filter((g) => g.scope === scope);
      const all = byScope('all')[0];
      const timeAxis = () => timeAxisFor(all.interval_end_s[all.interval_end_s.length - 1] || 0);
      const overTime = section('Over simulated time',
        'Per interval of ' + secs(data.timeseries_interval_s || (all.interval_end_s[0] - all.interval_start_s[0])) +
        ' (metrics.timeseries_interval). Attainment is the share of the requests that completed or were rejected in ' +
        'the interval that met their SLO; throughput counts the answer tokens of the requests that completed in it.');
      const att = [line('all classes', steps(all, 'slo_attainment'), 0, {borderWidth: 3})];
      byScope('class').forEach((g, i) => att.push(line(g.name, steps(g, 'slo_attainment'), i + 1)));
      chart(overTime, 'SLO attainment', {type: 'scatter', data: {datasets: att},
        options: {scales: {x: timeAxis(), y: fractionAxis('met SLO')}}});
      const width = all.interval_end_s.map((e, k) => e - all.interval_start_s[k]);
      const rate = (g, col) => ({interval_start_s: g.interval_start_s, interval_end_s: g.interval_end_s,
                                 v: g[col].map((v, k) => (width[k] > 0 && isNum(v) ? v / width[k] : null))});
      const arrivals = rate(all, 'arrivals'), completed = rate(all, 'completed');
      chart(overTime, 'Throughput and load', {type: 'scatter', data: {datasets: [
        line('output tokens/s', steps(all, 'output_tokens_per_s'), 0, {yAxisID: 'y'}),
        line('arrivals/s', steps(arrivals, 'v'), 1, {yAxisID: 'y1', borderDash: [5, 3]}),
        line('completions/s', steps(completed, 'v'), 2, {yAxisID: 'y1'}),
      ]}, options: {scales: {x: timeAxis(), y: {position: 'left', beginAtZero: true, title: {display: true, text: 'tokens/s'}},
                              y1: {position: 'right', beginAtZero: true, grid: {drawOnChartArea: false},
                                   title: {display: true, text: 'requests/s'}}}}});

      const poolTime = section('Pools over time',
        'Utilisation is busy instance-time over the interval; requests outstanding (waiting or running) and KV-cache ' +
        'use are sampled at the end of each interval.');
      const poolGroups = byScope('pool');
      chart(poolTime, 'Utilisation per pool', {type: 'scatter',
        data: {datasets: poolGroups.map((g, i) => line(g.name, steps(g, 'utilization'), i))},
        options: {scales: {x: timeAxis(), y: fractionAxis('busy')}}});
      const queue = [];
      poolGroups.forEach((g, i) => {
        queue.push(line(g.name + ' outstanding', steps(g, 'outstanding'), i));
        queue.push(line(g.name + ' waiting', steps(g, 'waiting'), i, {borderDash: [5, 3], borderWidth: 1.5}));
      });
      chart(poolTime, 'Requests at each pool', {type: 'scatter', data: {datasets: queue},
        options: {scales: {x: timeAxis(), y: {beginAtZero: true, title: {display: true, text: 'requests'}}}}});
      chart(poolTime, 'KV cache in use', {type: 'scatter',
        data: {datasets: poolGroups.map((g, i) => line(g.name, steps(g, 'kv_used_fraction'), i))},
        options: {scales: {x: timeAxis(), y: fractionAxis('of capacity')}}});
    }

    // Cost.
    const cost = section('Cost',
      'Hardware is accelerator capex amortised over the interval (or rental), energy is metered power x PUE x ' +
      'price, network is the scale-out fabric\'s share of capex, opex the yearly operations share. Raw cost per ' +
      'token divides by every answer token produced; cost per useful token only by value-weighted tokens of ' +
      'requests that met their SLO.');
    const parts = [['hardware_usd', 'hardware (capex or rental)'], ['energy_usd', 'energy'],
                   ['network_usd', 'network'], ['opex_usd', 'opex']];
    const costLabels = pools.concat(pools.length > 1 ? ['all pools'] : []);
    const costOf = (label) => (label === 'all pools' ? r.cost : r.pools[label].cost);
    chart(cost, 'Cost breakdown', {type: 'bar', data: {labels: costLabels, datasets: parts.map(([key, label], i) => ({
      label: label, data: costLabels.map((l) => costOf(l)[key]), backgroundColor: color(i)}))},
      options: {scales: {x: {stacked: true}, y: {stacked: true, title: {display: true, text: 'USD'},
                                                 ticks: {callback: (v) => money(Number(v))}}},
                plugins: {tooltip: {callbacks: {label: (ctx) => ctx.dataset.label + ': ' + money(ctx.parsed.y)}}}}});
    const perTok = (usd, tokens) => (tokens > 0 ? usd / tokens * 1e6 : null);
    const groups = [['all', s.cost_usd, s.output_tokens, s.cost_per_useful_mtok_usd]];
    classes.forEach((c) => groups.push(['class ' + c, r.classes[c].cost_usd, r.classes[c].output_tokens,
                                        r.classes[c].cost_per_useful_mtok_usd]));
    if (pools.length > 1)
      pools.forEach((p) => groups.push(['pool ' + p, r.pools[p].cost_usd, r.pools[p].output_tokens,
                                        r.pools[p].cost_per_useful_mtok_usd]));
    chart(cost, 'Cost per million tokens: raw vs useful', {type: 'bar', data: {labels: groups.map((g) => g[0]),
      datasets: [
        {label: 'raw (all tokens)', data: groups.map((g) => perTok(g[1], g[2])), backgroundColor: color(0)},
        {label: 'useful (within SLO, value-weighted)', data: groups.map((g) => (isNum(g[3]) ? g[3] : null)),
         backgroundColor: color(3)}]},
      options: {scales: {y: {beginAtZero: true, title: {display: true, text: 'USD per million tokens'},
                             ticks: {callback: (v) => money(Number(v))}}},
                plugins: {tooltip: {callbacks: {label: (ctx) => ctx.dataset.label + ': ' + money(ctx.parsed.y)}}}}},
      'A missing "useful" bar means no useful token at all (the cost per useful token is unbounded).');

    // Latency budget breakdown, from what results.json holds today.
    const budget = section('Where the latency goes',
      'Mean time of a request per class, split into what results.json separates today: the client network (the ' +
      'scenario\'s client latency, both ways), the cluster\'s time to the first token (queueing, prefill and any KV ' +
      'transfer together: results.json does not separate them yet) and the decode (mean E2E - mean TTFT).');
    const lat2 = 2 * (data.client_latency_s || 0);
    const segs = [['client network', () => lat2],
                  ['queueing + prefill (not separated yet)', (c) => c.ttft_s.mean - lat2],
                  ['decode', (c) => c.e2e_s.mean - c.ttft_s.mean]];
    const ok = classes.filter((c) => isNum(r.classes[c].ttft_s.mean) && isNum(r.classes[c].e2e_s.mean));
    chart(budget, 'Mean request time by phase', {type: 'bar', data: {labels: ok, datasets: segs.map(([label, f], i) => ({
      label: label, data: ok.map((c) => Math.max(0, f(r.classes[c]))), backgroundColor: color(i)}))},
      options: {indexAxis: 'y', scales: {x: {stacked: true, title: {display: true, text: 'seconds'},
                                             ticks: {callback: (v) => secs(Number(v))}}, y: {stacked: true}},
                plugins: {tooltip: {callbacks: {label: (ctx) => ctx.dataset.label + ': ' + secs(ctx.parsed.x)}}}}});

    // Tables.
    root.appendChild(el('h2', {text: 'Classes'}));
    table(root, ['class', 'requests', 'completed', 'rejected', 'SLO met', 'target', 'TTFT p50', 'TTFT p99', 'TPOT p50',
                 'TPOT p99', 'E2E p99', 'useful tokens', '$/M useful'],
          classes.map((c) => {
            const k = r.classes[c];
            return [c, count(k.requests), count(k.completed), count(k.rejected),
                    {text: pct(k.slo_attainment), cls: k.meets_target ? 'pass' : 'fail'}, pct(k.attainment_target),
                    secs(k.ttft_s.p50), secs(k.ttft_s.p99), secs(k.tpot_s.p50), secs(k.tpot_s.p99), secs(k.e2e_s.p99),
                    count(k.useful_tokens), money(k.cost_per_useful_mtok_usd)];
          }));
    root.appendChild(el('h2', {text: 'Pools'}));
    table(root, ['pool', 'accelerator', 'model', 'accelerators', 'instances', 'utilisation', 'requests', 'cost',
                 'energy kWh', '$/M useful'],
          pools.map((p) => {
            const k = r.pools[p];
            return [p, k.accelerator, k.model, count(k.accelerators), count(k.instances), pct(k.utilization),
                    count(k.requests), money(k.cost_usd), num(k.energy_kwh, 3), money(k.cost_per_useful_mtok_usd)];
          }));
  }

  // ---- a sweep --------------------------------------------------------------------------------------------
  function renderSweep() {
    const pts = data.points;
    const params = data.parameters || [];
    root.appendChild(el('h1', {text: data.title}));
    root.appendChild(el('p', {cls: 'meta', text: 'sweep of ' + data.scenario + ' \u00b7 ' + pts.length + ' points \u00b7 ' +
      'parameters: ' + (params.length ? params.join(', ') : 'none')}));
    const okPts = pts.filter((p) => isNum(p.slo_attainment));
    const front = new Set(data.pareto || []);
    const describe = (p) => p.name + ' (' + params.map((k) => k + '=' + JSON.stringify(p.values[k])).join(', ') + ')';

    const pareto = section('Cost per useful token against SLO attainment',
      'Each point is one run of the sweep. The Pareto front (no other point is both cheaper per useful token and ' +
      'better on attainment) is joined by the line. Points without any useful token have no cost per useful token ' +
      'and are not drawn.');
    const frontPts = (data.pareto || []).map((i) => pts[i]).map((p) => ({x: p.slo_attainment, y: p.cost_per_useful_mtok_usd, p: p}));
    const others = okPts.filter((p) => isNum(p.cost_per_useful_mtok_usd) && !front.has(pts.indexOf(p)))
                        .map((p) => ({x: p.slo_attainment, y: p.cost_per_useful_mtok_usd, p: p}));
    const costs = okPts.map((p) => p.cost_per_useful_mtok_usd).filter(isNum);
    const logY = costs.length > 1 && Math.max(...costs) / Math.min(...costs) > 30;
    chart(pareto, 'Pareto front', {type: 'scatter', data: {datasets: [
      {label: 'Pareto front', data: frontPts, showLine: true, borderColor: color(3), backgroundColor: color(3),
       pointRadius: 6, pointStyle: 'rectRot', borderWidth: 2},
      {label: 'other points', data: others, borderColor: color(0), backgroundColor: color(0), pointRadius: 4}]},
      options: {scales: {x: {title: {display: true, text: 'SLO attainment'}, ticks: {callback: (v) => pct(Number(v))}},
                         y: {type: logY ? 'logarithmic' : 'linear', title: {display: true, text: 'USD per million useful tokens'},
                             ticks: {callback: (v) => money(Number(v))}}},
                plugins: {tooltip: {callbacks: {label: (ctx) => describe(ctx.raw.p) + ': ' + money(ctx.raw.y) +
                  ' per M useful, ' + pct(ctx.raw.x)}}}}});

    // Each parameter's effect: every point, and the mean over the other parameters for each value.
    if (params.length) {
      const effect = section('Effect of each parameter',
        'For each swept parameter, every point (dots) and the mean over the other parameters at each value (line): ' +
        'cost per useful token on the left axis, SLO attainment on the right.');
      params.forEach((param) => {
        const vals = okPts.map((p) => p.values[param]);
        const numeric = vals.every((v) => typeof v === 'number');
        const cats = [];
        if (!numeric) vals.forEach((v) => { const k = JSON.stringify(v); if (!cats.includes(k)) cats.push(k); });
        const xOf = (v) => (numeric ? v : cats.indexOf(JSON.stringify(v)));
        const mean = (metric) => {
          const groups = new Map();
          okPts.forEach((p) => {
            const y = p[metric];
            if (!isNum(y)) return;
            const x = xOf(p.values[param]);
            if (!groups.has(x)) groups.set(x, []);
            groups.get(x).push(y);
          });
          return [...groups.entries()].sort((a, b) => a[0] - b[0])
            .map(([x, ys]) => ({x: x, y: ys.reduce((a, b) => a + b, 0) / ys.length}));
        };
        const dots = (metric) => okPts.filter((p) => isNum(p[metric]))
          .map((p) => ({x: xOf(p.values[param]), y: p[metric], p: p}));
        chart(effect, param, {type: 'scatter', data: {datasets: [
          {label: '$/M useful', data: dots('cost_per_useful_mtok_usd'), backgroundColor: color(0), yAxisID: 'y', pointRadius: 3},
          line('$/M useful, mean', mean('cost_per_useful_mtok_usd'), 0, {yAxisID: 'y', pointRadius: 3}),
          {label: 'SLO attainment', data: dots('slo_attainment'), backgroundColor: color(1), yAxisID: 'y1', pointRadius: 3},
          line('SLO attainment, mean', mean('slo_attainment'), 1, {yAxisID: 'y1', pointRadius: 3})]},
          options: {scales: {
            x: numeric ? {type: 'linear', title: {display: true, text: param}}
                       : {type: 'linear', min: -0.5, max: cats.length - 0.5, title: {display: true, text: param},
                          ticks: {stepSize: 1, callback: (v) => (Number.isInteger(v) && cats[v] !== undefined ? cats[v] : '')}},
            y: {position: 'left', beginAtZero: true, title: {display: true, text: 'USD per million useful tokens'},
                ticks: {callback: (v) => money(Number(v))}},
            y1: Object.assign(fractionAxis('SLO attainment'), {position: 'right', grid: {drawOnChartArea: false}})},
            plugins: {tooltip: {callbacks: {label: (ctx) => (ctx.raw.p ? describe(ctx.raw.p) + ': ' : ctx.dataset.label + ': ') +
              (ctx.dataset.yAxisID === 'y1' ? pct(ctx.parsed.y) : money(ctx.parsed.y))}}}}});
      });
    }

    root.appendChild(el('h2', {text: 'Points'}));
    table(root, ['point', 'status'].concat(params).concat(['$/M useful', '$/M raw', 'SLO met', 'TTFT p99', 'tok/s', 'Pareto']),
          pts.map((p, i) => {
            const name = p.link ? el('a', {href: p.link, text: p.name}) : p.name;
            return [name, {text: p.status, cls: p.status === 'ok' ? 'pass' : 'fail'}]
              .concat(params.map((k) => (typeof p.values[k] === 'string' ? p.values[k] : JSON.stringify(p.values[k]))))
              .concat([money(p.cost_per_useful_mtok_usd), money(p.cost_per_mtok_usd), pct(p.slo_attainment),
                       secs(p.ttft_p99_s), num(p.output_tokens_per_s), front.has(i) ? 'yes' : '']);
          }));
  }

  if (data.kind === 'sweep') renderSweep();
  else renderRun();
  if (data.notes && data.notes.length) {
    root.appendChild(el('div', {cls: 'notes'}, data.notes.map((n) => el('p', {text: n}))));
  }
  root.appendChild(el('footer', {text: 'Written by tokenfactory report. Charts drawn with Chart.js ' + Chart.version +
    ' (MIT licence), inlined so that this file opens offline.'}));
  document.documentElement.setAttribute('data-tf-charts', String(chartCount));
  document.documentElement.setAttribute('data-tf-status', 'rendered');
})();
