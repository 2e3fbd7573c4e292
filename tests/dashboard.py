#!/usr/bin/python3
"""The web dashboard in a real browser: drives headless Chromium (Selenium,
Debian's python3-selenium and chromium-driver) against a running coordinator
and checks what a member and an operator see.

Run by tests/cli/dashboard.sh, which starts the coordinator, creates the
tenants, tokens and jobs, and passes them here:

  /usr/bin/python3 tests/dashboard.py --url https://127.0.0.1:PORT/ --cacert CA \
      --spki BASE64 --operator-token-file F --member-token-file F --tenant A \
      --job ID --job-name NAME --other-job ID --other-job-name NAME --out DIR

Checks, in order:
  - a member (tenant A) signs in: #jobs-table lists A's job, not B's job;
  - A's job page: state succeeded, loss and accuracy charts whose Chart.js
    objects hold one point per epoch of GET /v1/jobs/ID, updated in place;
    the stdout log loads; a screenshot (PNG) that is not blank;
  - B's job page with A's token: the 404 error, no data of B;
  - a program job (--program-job, running and waiting for --program-go): one
    chart per number of its metrics lines, read back from Chart.js; a metrics
    key made of HTML stays text and runs nothing; after the go file lets the
    program append its last lines, the same chart objects hold them all;
    the jobs list shows its last step;
  - the operator: #/queue (queue and fair-share tables, share chart) and
    #/usage (stacked usage chart, totals);
  - no severe errors in the browser console (beyond the expected 404).
Prints "ok: ..." per check; exits 1 with "FAIL: ..." on the first failure.
"""
import argparse
import json
import os
import signal
import ssl
import struct
import sys
import time
import urllib.request
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'


class Failure(Exception):
    pass


def ok(msg):
    print('ok: ' + msg, flush=True)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# ---------------------------------------------------------------------------
# PNG decoding (zlib + struct only): enough for Chromium's screenshots.

def png_pixels(path):
    """Returns (width, height, channels, rows) with rows as bytes per scanline."""
    with open(path, 'rb') as f:
        data = f.read()
    check(data[:8] == b'\x89PNG\r\n\x1a\n', '%s is not a PNG file' % path)
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        length, ctype = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b'IHDR':
            ihdr = struct.unpack('>IIBBBBB', body)
        elif ctype == b'IDAT':
            idat.append(body)
        elif ctype == b'IEND':
            break
        pos += 12 + length
    check(ihdr is not None, '%s has no IHDR chunk' % path)
    width, height, depth, colour, _, _, interlace = ihdr
    channels = {2: 3, 6: 4, 0: 1, 4: 2}.get(colour)
    check(depth == 8 and channels and interlace == 0,
          '%s: unexpected PNG format (depth %d, colour type %d, interlace %d)' % (path, depth, colour, interlace))
    raw = zlib.decompress(b''.join(idat))
    stride = width * channels
    check(len(raw) == height * (stride + 1), '%s: truncated image data' % path)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        off = y * (stride + 1)
        ftype = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        if ftype == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif ftype == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        elif ftype != 0:
            raise Failure('%s: bad PNG filter type %d on row %d' % (path, ftype, y))
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def check_not_blank(path):
    width, height, channels, rows = png_pixels(path)
    counts = {}
    for row in rows:
        for x in range(0, width * channels, channels):
            px = row[x:x + 3] if channels >= 3 else row[x:x + 1]
            counts[px] = counts.get(px, 0) + 1
    total = width * height
    background, bg_count = max(counts.items(), key=lambda kv: kv[1])
    other = 1 - bg_count / total
    check(width >= 800 and height >= 600, 'screenshot is only %dx%d' % (width, height))
    check(len(counts) >= 64, 'screenshot looks blank: only %d distinct colours' % len(counts))
    check(other >= 0.05, 'screenshot looks blank: %.1f%% of pixels differ from the background #%s'
          % (100 * other, background.hex()))
    return width, height, len(counts), other


# ---------------------------------------------------------------------------
# The browser

class Browser:
    def __init__(self, args):
        self.args = args
        opts = Options()
        opts.binary_location = CHROMIUM
        for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                     '--disable-background-networking', '--disable-component-update', '--disable-sync',
                     '--disable-default-apps', '--disable-extensions', '--no-default-browser-check',
                     '--window-size=1440,1100', '--hide-scrollbars',
                     '--user-data-dir=' + os.path.join(args.out, 'chromium-profile')):
            opts.add_argument(flag)
        if args.spki:
            opts.add_argument('--ignore-certificate-errors-spki-list=' + args.spki)
        else:
            opts.add_argument('--ignore-certificate-errors')
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        service = Service(CHROMEDRIVER, log_output=os.path.join(args.out, 'chromedriver.log'))
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(30)
        self.console = []       # every browser log entry seen so far
        self.allowed = []       # substrings of severe entries that a step expected

    def quit(self):
        try:
            self.driver.quit()
        except Exception:
            pass

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self, css):
        return self.js('const n = document.querySelector(arguments[0]); return n ? n.textContent : null;', css)

    def visible(self, css):
        return self.js('const n = document.querySelector(arguments[0]);'
                       'return !!n && n.getClientRects().length > 0 && getComputedStyle(n).visibility !== "hidden";',
                       css)

    def error_text(self):
        return (self.text('#error-text') or '').strip() if self.visible('#error') else ''

    def wait(self, what, cond, timeout=20):
        """Polls cond() until it returns something true; fails with `what` and #error."""
        end = time.time() + timeout
        last = None
        while True:
            try:
                last = cond()
                if last:
                    return last
            except Failure:
                raise
            except Exception as e:  # a page in the middle of rendering
                last = e
            if time.time() > end:
                err = self.error_text()
                raise Failure('timed out after %ds waiting for %s%s%s' % (
                    timeout, what, ' (last: %r)' % (last,) if last not in (None, False) else '',
                    '; the page shows the error "%s"' % err if err else ''))
            time.sleep(0.1)

    def go(self, hash_route):
        self.js('location.hash = arguments[0];', hash_route)

    def drain_console(self):
        entries = self.driver.get_log('browser')
        self.console.extend(entries)
        return entries

    def severe_console(self):
        """Severe console entries not expected by a step."""
        self.drain_console()
        bad = []
        for e in self.console:
            if e.get('level') != 'SEVERE':
                continue
            if any(a in e.get('message', '') for a in self.allowed):
                continue
            bad.append(e.get('message', ''))
        return bad

    def chart(self, canvas_id):
        """What Chart.js holds for the canvas: labels and each dataset's points."""
        return self.js('''
            const c = document.getElementById(arguments[0]);
            if (!c || typeof Chart === 'undefined') return null;
            const ch = Chart.getChart(c);
            if (!ch) return null;
            return {type: ch.config.type, labels: ch.data.labels.length, mark: ch.$testMark || null,
                    datasets: ch.data.datasets.map(d => ({label: d.label, n: d.data.length,
                        data: d.data.map(v => (v === null || typeof v === 'number') ? v : null)})),
                    width: ch.width, height: ch.height};''', canvas_id)


# ---------------------------------------------------------------------------

def api_get(args, token, path):
    ctx = ssl.create_default_context(cafile=args.cacert)
    req = urllib.request.Request(args.url.rstrip('/') + path, headers={'Authorization': 'Bearer ' + token})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return json.load(r)


def read_token(path):
    with open(path) as f:
        tok = f.read().strip()
    check(tok, 'token file %s is empty' % path)
    return tok


def sign_in(b, token, who):
    b.wait('the sign-in form', lambda: b.visible('#token') and b.visible('#sign-in'))
    field = b.find('#token')
    field.clear()
    field.send_keys(token)
    b.find('#sign-in').click()
    b.wait('%s to be signed in' % who, lambda: b.visible('#sign-out') and not b.visible('#token'))
    check(b.js('return sessionStorage.length') >= 1, 'the token is not kept in sessionStorage')


def sign_out(b):
    b.find('#sign-out').click()
    b.wait('the sign-in form after signing out', lambda: b.visible('#token'))
    check(b.js('return Object.keys(sessionStorage).length') == 0, 'sessionStorage still holds a token after sign-out')
    check(not b.visible('#jobs-table'), '#jobs-table is still shown after sign-out')


def jobs_rows(b):
    return b.js('''return Array.from(document.querySelectorAll('#jobs-table tbody tr')).map(
                     r => ({id: r.dataset.jobId || null, text: r.textContent}));''')


def member_checks(b, args, token):
    url = args.url if args.url.endswith('/') else args.url + '/'
    b.driver.get(url)
    b.wait('the page title', lambda: 'Gigafactory' in b.driver.title)
    sign_in(b, token, 'member of ' + args.tenant)
    b.wait('#/jobs after sign-in', lambda: b.js('return location.hash') == '#/jobs')

    # my jobs, not the other tenant's
    rows = b.wait('job %s in #jobs-table' % args.job,
                  lambda: (lambda r: r if any(x['id'] == args.job for x in r) else None)(jobs_rows(b)))
    mine = [r for r in rows if r['id'] == args.job][0]
    check(args.job_name in mine['text'], 'the row of job %s lacks its name "%s": %r' % (args.job, args.job_name, mine['text']))
    check(args.tenant in mine['text'], 'the row of job %s lacks its tenant "%s"' % (args.job, args.tenant))
    check('succeeded' in mine['text'], 'the row of job %s does not say succeeded: %r' % (args.job, mine['text']))
    check(not any(r['id'] == args.other_job for r in rows),
          '#jobs-table shows the other tenant\'s job %s to %s' % (args.other_job, args.tenant))
    table = b.text('#jobs-table') or ''
    check(args.other_job_name not in table,
          '#jobs-table shows the other tenant\'s job name "%s"' % args.other_job_name)
    check(b.js('return !!document.querySelector(\'#jobs-table a[href="#/job/%s"]\')' % args.job),
          'the row of job %s has no link to #/job/%s' % (args.job, args.job))
    check(not b.visible('#nav-queue'), 'a member sees the Queue link')
    check(not b.error_text(), 'the jobs page shows an error: %s' % b.error_text())
    ok('%s signs in and #jobs-table lists job %s "%s", not job %s "%s"'
       % (args.tenant, args.job, args.job_name, args.other_job, args.other_job_name))

    # the job page: state, charts with one point per epoch
    status = api_get(args, token, '/v1/jobs/%s' % args.job)
    epochs = len(status.get('epochs') or [])
    check(epochs >= 1, 'GET /v1/jobs/%s has no epochs: %s' % (args.job, json.dumps(status)[:400]))
    b.find('#jobs-table a[href="#/job/%s"]' % args.job).click()
    b.wait('#job-state to say succeeded', lambda: (b.text('#job-state') or '').strip() == 'succeeded')
    check(b.js('return location.hash') == '#/job/%s' % args.job, 'the job link did not lead to #/job/%s' % args.job)
    check(args.job_name in (b.text('#job-title') or ''), '#job-title lacks "%s"' % args.job_name)
    check((b.text('#job-tenant') or '').strip() == args.tenant, '#job-tenant is "%s"' % b.text('#job-tenant'))
    check((b.text('#job-kind') or '').strip() == 'central', '#job-kind is "%s"' % b.text('#job-kind'))
    for cid in ('chart-loss', 'chart-accuracy'):
        check(b.js('const c = document.getElementById(arguments[0]); return !!c && c.tagName === "CANVAS"', cid),
              'no <canvas id="%s">' % cid)
        check(b.visible('#' + cid), '#%s is not visible' % cid)
        ch = b.wait('a Chart.js chart on #%s with %d points' % (cid, epochs),
                    lambda cid=cid: (lambda c: c if c and c['datasets'] and c['labels'] == epochs
                                     and all(d['n'] == epochs for d in c['datasets']) else None)(b.chart(cid)))
        check(ch['type'] == 'line', '#%s is a %s chart, not a line chart' % (cid, ch['type']))
        check(ch['width'] > 100 and ch['height'] > 100, '#%s is drawn %dx%d' % (cid, ch['width'], ch['height']))
    loss = b.chart('chart-loss')['datasets'][0]['data']
    want = [e.get('train_loss') for e in status['epochs']]
    check(all(a is None and b_ is None or (a is not None and b_ is not None and abs(a - b_) < 1e-6 * max(1, abs(b_)))
              for a, b_ in zip(loss, want)), 'the loss chart holds %r, the API says %r' % (loss, want))
    acc = b.chart('chart-accuracy')['datasets'][0]['data']
    want = [e.get('test_accuracy') for e in status['epochs']]
    check(all(a is None and b_ is None or (a is not None and b_ is not None and abs(a - b_) < 1e-6)
              for a, b_ in zip(acc, want)), 'the accuracy chart holds %r, the API says %r' % (acc, want))
    ok('job %s page: state succeeded, loss and accuracy charts with %d point(s) per series, as GET /v1/jobs/%s'
       % (args.job, epochs, args.job))

    # the page refreshes every 2 s and updates the same chart objects
    b.js('for (const id of ["chart-loss", "chart-accuracy"]) Chart.getChart(document.getElementById(id)).$testMark = id;')
    before = b.js('return document.getElementById("refresh-status").textContent')
    b.wait('a refresh of the job page', lambda: b.js('return document.getElementById("refresh-status").textContent') != before,
           timeout=10)
    for cid in ('chart-loss', 'chart-accuracy'):
        ch = b.chart(cid)
        check(ch and ch['mark'] == cid, 'the chart on #%s was re-created by a refresh, not updated in place' % cid)
        check(all(d['n'] == epochs for d in ch['datasets']), '#%s lost points on refresh' % cid)
    ok('job page refreshes and updates its charts in place')

    check(b.visible('#state-log'), 'no #state-log')
    check('succeeded' in (b.text('#state-log') or ''), '#state-log has no transition to succeeded')
    check(b.visible('#job-resources') and b.visible('#job-usage'), 'resources and usage are not shown for a central job')
    check(not b.error_text(), 'the job page shows an error: %s' % b.error_text())
    b.find('#log-stdout').click()
    b.wait('the stdout log in #job-logs', lambda: b.visible('#job-logs') and
           (b.text('#job-logs') or '') not in ('', 'Loading\u2026'))
    check(not b.error_text(), 'loading the stdout log shows an error: %s' % b.error_text())
    ok('job page: state log, resources, usage, stdout log (%d chars)' % len(b.text('#job-logs') or ''))

    shot = os.path.join(args.out, 'job-%s.png' % args.job)
    b.js('window.scrollTo(0, 0)')
    time.sleep(0.3)
    check(b.driver.save_screenshot(shot), 'could not save a screenshot to %s' % shot)
    print('screenshot: %s' % shot, flush=True)
    w, h, colours, other = check_not_blank(shot)
    ok('screenshot %dx%d of the job page is not blank: %d colours, %.0f%% of pixels not background'
       % (w, h, colours, 100 * other))

    # the other tenant's job: 404, nothing of it shown
    b.allowed.append('/v1/jobs/%s?rounds_limit=1000000000 - Failed to load resource: the server responded with '
                     'a status of 404' % args.other_job)
    b.go('#/job/%s' % args.other_job)
    err = b.wait('an error on #/job/%s' % args.other_job, lambda: b.error_text())
    check('404' in err, 'the error for another tenant\'s job does not say 404: "%s"' % err)
    check(not b.visible('#job-detail'), 'the job details are shown for another tenant\'s job')
    body = b.js('return document.body.innerText')
    check(args.other_job_name not in body, 'the page shows the other tenant\'s job name "%s"' % args.other_job_name)
    check(args.job_name not in (b.text('#job-title') or ''), 'the page still shows job %s\'s title' % args.job)
    check((b.text('#job-state') or '').strip() == '', '#job-state shows "%s"' % b.text('#job-state'))
    for cid in ('chart-loss', 'chart-accuracy'):
        ch = b.chart(cid)
        check(not ch or all(d['n'] == 0 for d in ch['datasets']), '#%s still holds points' % cid)
    ok('#/job/%s with %s\'s token: "%s", no data of that job' % (args.other_job, args.tenant, err))

    sign_out(b)
    ok('sign-out returns to the sign-in form and forgets the token')


def federated_checks(b, args, token):
    """A federated job's page: one point per round in each chart, the sites
    of the last round, and no round counted twice after refreshes (the page
    fetches only the rounds it has not seen)."""
    sign_in(b, token, 'tenant %s' % args.tenant)
    b.go('#/job/%s' % args.fed_job)
    n = args.fed_rounds
    for cid in ('chart-loss', 'chart-accuracy', 'chart-sites'):
        ch = b.wait('%s with %d rounds' % (cid, n), lambda cid=cid: (lambda c: c if c and c['labels'] == n else None)(
            b.chart(cid)))
        check(all(d['n'] == n for d in ch['datasets']), '%s: %r' % (cid, ch))
    sites = b.chart('chart-sites')['datasets'][0]['data']
    check(sites == [2] * n, 'sites per round: %r' % sites)
    time.sleep(5)                        # two refreshes of the page
    for cid in ('chart-loss', 'chart-sites'):
        ch = b.chart(cid)
        check(ch['labels'] == n and all(d['n'] == n for d in ch['datasets']),
              '%s after refreshes: %r (rounds counted twice?)' % (cid, ch))
    names = b.text('#site-names')
    check('s0' in names and 's1' in names, 'the last round\'s sites: %r' % names)
    # per-site evaluation ("eval_every": 2): the weighted site accuracy in the
    # accuracy chart at the evaluated rounds, and the latest round's table
    job = api_get(args, token, '/v1/jobs/%s' % args.fed_job)
    ev = {e['round']: e for e in job['site_eval']}
    check(sorted(ev) == [r for r in range(2, n + 1, 2)], 'site_eval rounds: %r' % sorted(ev))
    series = [d for d in b.chart('chart-accuracy')['datasets'] if d['label'] == 'at the sites (weighted)']
    check(len(series) == 1, 'no weighted site accuracy series in the accuracy chart')
    want = [ev[r]['weighted']['accuracy'] if r in ev else None for r in range(1, n + 1)]
    got = series[0]['data']
    check(all((g is None) == (w is None) and (w is None or abs(g - w) < 1e-9) for g, w in zip(got, want)),
          'weighted site accuracy in the chart %r, the API %r' % (got, want))
    b.wait('#panel-site-eval', lambda: b.visible('#panel-site-eval'))
    rows = b.js('return Array.from(document.querySelectorAll("#site-eval-body tr"))'
                '.map(r => Array.from(r.cells).map(c => c.textContent))')
    last = ev[max(ev)]
    check([r[0] for r in rows] == [x['site'] for x in last['sites']] + ['weighted by test samples'],
          'site evaluation rows: %r' % rows)
    for r, x in zip(rows, last['sites'] + [last['weighted']]):
        check(r[1] == '{:,}'.format(x['samples']) and r[3] == '%.1f%%' % (100 * x['accuracy']),
              'site evaluation row %r, the API %r' % (r, x))
    check('after round %d' % max(ev) in b.text('#site-eval-round'), 'site evaluation title: %r' % b.text('#site-eval-round'))
    # each site's own DP-SGD epsilon (local.dp_sgd), as the API gives it
    check(sorted(x['site'] for x in job['site_dp']) == ['s0', 's1'], 'site_dp: %r' % job['site_dp'])
    b.wait('#site-dp', lambda: b.visible('#site-dp'))
    items = b.js('return Array.from(document.querySelectorAll("#site-dp-list li")).map(l => l.textContent)')
    want = ['%s: \u03b5 = %s at \u03b4 = 1e-5 after round %d' % (x['site'], float('%.4g' % x['epsilon']), x['round'])
            for x in job['site_dp']]
    check(items == want, 'site DP-SGD list %r, the API %r' % (items, want))
    check(not b.error_text(), 'the federated job page shows an error: %s' % b.error_text())
    ok('federated job %s: %d rounds in the loss, accuracy and sites charts, still %d after refreshes; sites %s; '
       'per-site evaluation of rounds %s in the chart and the table; each site\'s DP-SGD epsilon listed as the API gives it'
       % (args.fed_job, n, n, names.strip(), sorted(ev)))
    sign_out(b)


def program_charts(b):
    """The program job's metric charts: [{title, key, label, points: [[x, y]]}]."""
    return b.js('''
        return Array.from(document.querySelectorAll('#program-charts canvas')).map(c => {
            const ch = Chart.getChart(c);
            const card = c.closest('.card');
            return {title: card.querySelector('h2').textContent, key: c.dataset.metric,
                    mark: ch ? ch.$testMark || null : null, shown: c.getClientRects().length > 0,
                    label: ch && ch.data.datasets.length ? ch.data.datasets[0].label : null,
                    points: ch && ch.data.datasets.length ? ch.data.datasets[0].data.map(p => [p.x, p.y]) : []};
        });''')


def program_checks(b, args, token):
    """A running program job: its metrics lines become one chart per number
    (x = step, or the line's index), HTML in a key stays text; after the go
    file, the lines it appends reach the same charts (fetched after the cursor)."""
    evil = '<img src=x onerror=window.__gfPwned=1>'
    sign_in(b, token, 'tenant %s' % args.tenant)
    b.go('#/job/%s' % args.program_job)
    b.wait('#job-kind to say program', lambda: (b.text('#job-kind') or '').strip() == 'program')
    check(b.visible('#panel-program') and not b.visible('#chart-loss'),
          'a program job\'s page shows the epoch charts instead of its metrics')

    def want(ks):
        return {'loss': [[k, 1.0 / k] for k in ks], 'acc': [[k, 0.5 + 0.1 * k] for k in ks], evil: [[3, 7]]}

    def same(charts, w):
        got = {c['key']: c['points'] for c in charts}
        if sorted(got) != sorted(w):
            return False
        return all(len(got[k]) == len(w[k]) and all(g[0] == x and abs(g[1] - y) < 1e-12 for g, (x, y) in zip(got[k], w[k]))
                   for k in w)
    charts = b.wait('the metric charts of 3 steps and the HTML key', lambda: (lambda c: c if same(c, want([1, 2, 3])) else None)(
        program_charts(b)))
    check([c['key'] for c in charts] == ['loss', 'acc', evil], 'metric charts in the order %r' % [c['key'] for c in charts])
    for c in charts:
        check(c['title'] == c['key'] and c['label'] == c['key'] and c['shown'], 'metric chart %r' % c)
    check(b.js('return document.querySelectorAll("#view-job img, #view-job script").length') == 0,
          'the HTML of a metrics key became elements')
    check(b.js('return window.__gfPwned === undefined'), 'a metrics key\'s HTML ran script')
    check('huge' not in (b.text('#program-charts') or '') and 'note' not in (b.text('#program-charts') or ''),
          'a chart for a key whose value is text')
    check((b.text('#program-count') or '').strip() == '(4 lines)', '#program-count: %r' % b.text('#program-count'))
    b.js('for (const c of document.querySelectorAll("#program-charts canvas")) Chart.getChart(c).$testMark = c.dataset.metric;')
    ok('program job %s, running: charts %s with the points of its 4 metrics lines (x = step, or the line\'s index), '
       'the HTML key shown as text, nothing run' % (args.program_job, [c['key'] for c in charts]))

    with open(args.program_go, 'w') as f:
        f.write('go\n')
    b.wait('#job-state to say succeeded', lambda: (b.text('#job-state') or '').strip() == 'succeeded', timeout=30)
    charts = b.wait('the metric charts of 5 steps', lambda: (lambda c: c if same(c, want([1, 2, 3, 4, 5])) else None)(
        program_charts(b)))
    check(all(c['mark'] == c['key'] for c in charts), 'metric charts re-created instead of updated: %r' % charts)
    before = b.js('return document.getElementById("refresh-status").textContent')
    b.wait('a refresh of the job page', lambda: b.js('return document.getElementById("refresh-status").textContent') != before,
           timeout=10)
    charts = program_charts(b)
    check(same(charts, want([1, 2, 3, 4, 5])), 'metric charts after one more refresh (lines counted twice?): %r' % charts)
    check(b.js('return window.__gfPwned === undefined'), 'a metrics key\'s HTML ran script')
    check(not b.error_text(), 'the program job page shows an error: %s' % b.error_text())
    shot = os.path.join(args.out, 'job-%s.png' % args.program_job)
    b.js('document.getElementById("panel-program").scrollIntoView()')
    time.sleep(0.3)
    check(b.driver.save_screenshot(shot), 'could not save a screenshot to %s' % shot)
    w, h, colours, other = check_not_blank(shot)
    ok('program job %s, ended: the same charts now hold steps 1..5, still after another refresh; screenshot %s '
       '(%d colours, %.0f%% not background)' % (args.program_job, shot, colours, 100 * other))

    # 4500 lines more at once (more than two answers' worth): one refresh
    # fetches them all, page after page (the file is replaced by a longer
    # copy, atomically, so that no refresh reads half a line)
    metrics = os.path.join(os.path.dirname(args.program_go), 'metrics.jsonl')
    with open(metrics) as f:
        text = f.read()
    ks = list(range(6, 4506))
    with open(metrics + '.new', 'w') as f:
        f.write(text + ''.join(json.dumps({'step': k, 'loss': 1.0 / k, 'acc': 0.5 + 0.1 * k}) + '\n' for k in ks))
    seen = set()
    status = lambda: b.js('return document.getElementById("refresh-status").textContent')
    before = status()
    os.rename(metrics + '.new', metrics)

    def caught_up():
        c = program_charts(b)
        s = status()
        if s != before:
            seen.add(s)
        return c if same(c, want([1, 2, 3, 4, 5] + ks)) else None
    charts = b.wait('the metric charts of 4505 steps', caught_up, timeout=15)
    check(len(seen) <= 2, 'the 4500 new lines took %d refreshes (one page per refresh?)' % len(seen))
    check(all(c['mark'] == c['key'] for c in charts), 'metric charts re-created instead of updated')
    ok('4500 lines appended at once: all in the charts after %d refresh(es)' % len(seen))

    b.go('#/jobs')
    row = b.wait('the program job in #jobs-table', lambda: (lambda r: r[0] if r else None)(
        [r for r in jobs_rows(b) if r['id'] == args.program_job]))
    check('step 4,505' in row['text'], 'the program job\'s row does not show its last step: %r' % row['text'])
    ok('#jobs-table: the program job\'s progress says "step 4,505"')
    sign_out(b)


def operator_checks(b, args, token):
    sign_in(b, token, 'the operator')
    b.wait('the Queue link for the operator', lambda: b.visible('#nav-queue'))

    b.go('#/queue')
    b.wait('#queue-table', lambda: b.visible('#queue-table') and b.visible('#fairshare-table'))
    tenants = b.wait('rows in #fairshare-table', lambda: b.js(
        'return Array.from(document.querySelectorAll("#fairshare-table tbody tr")).map(r => r.cells[0].textContent)'))
    for t in (args.tenant, args.other_tenant):
        if t:
            check(t in tenants, 'tenant %s is not in #fairshare-table: %r' % (t, tenants))
    ch = b.wait('the fair-share chart', lambda: (lambda c: c if c and c['labels'] == len(tenants) else None)(
        b.chart('fairshare-chart')))
    check(ch['type'] == 'bar' and len(ch['datasets']) == 2, 'the fair-share chart: %r' % ch)
    queued = b.js('return document.querySelectorAll("#queue-table tbody tr").length')
    check(not b.error_text(), 'the queue page shows an error: %s' % b.error_text())
    ok('#/queue: %d queued job(s), fair-share tree of %s, shares vs usage chart' % (queued, ', '.join(tenants)))

    b.go('#/usage')
    b.wait('#usage-chart', lambda: b.visible('#usage-chart') and b.visible('#usage-totals'))
    totals = b.wait('a row for %s in #usage-totals' % args.tenant, lambda: (lambda r: r if args.tenant in r else None)(b.js(
        'return Array.from(document.querySelectorAll("#usage-totals tbody tr")).map(r => r.cells[0].textContent.trim())')))
    ch = b.wait('the usage chart with a series for %s' % args.tenant, lambda: (lambda c: c if c and any(
        d['label'] == args.tenant for d in c['datasets']) else None)(b.chart('usage-chart')))
    series = [d for d in ch['datasets'] if d['label'] == args.tenant][0]
    check(sum(v or 0 for v in series['data']) > 0, 'the usage chart shows no core-hours for %s' % args.tenant)
    check(b.js('const ch = Chart.getChart(document.getElementById("usage-chart"));'
               'return !!(ch.options.scales.y.stacked && ch.options.scales.x.stacked)'), 'the usage chart is not stacked')
    check(not b.error_text(), 'the usage page shows an error: %s' % b.error_text())
    ok('#/usage: stacked core-hours chart over %d buckets, totals for %s' % (ch['labels'], ', '.join(totals)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--url', required=True)
    ap.add_argument('--cacert', required=True, help='the CA of the coordinator\'s certificate')
    ap.add_argument('--spki', help='base64 SHA-256 of the server certificate\'s public key')
    ap.add_argument('--operator-token-file', required=True)
    ap.add_argument('--member-token-file', required=True)
    ap.add_argument('--tenant', required=True)
    ap.add_argument('--other-tenant')
    ap.add_argument('--job', required=True)
    ap.add_argument('--job-name', required=True)
    ap.add_argument('--other-job', required=True)
    ap.add_argument('--other-job-name', required=True)
    ap.add_argument('--fed-job', help='a finished federated job of --tenant')
    ap.add_argument('--fed-rounds', type=int, help='its rounds')
    ap.add_argument('--program-job', help='a running program job of --tenant, waiting for --program-go')
    ap.add_argument('--program-go', help='the file that lets the program job write its last metrics lines')
    ap.add_argument('--out', required=True, help='folder for the screenshots and logs')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            print('FAIL: %s is missing (Debian packages chromium and chromium-driver)' % path)
            return 1

    try:
        b = Browser(args)
    except Exception as e:
        print('FAIL: could not start Chromium through chromedriver: %s: %s' % (type(e).__name__, e), flush=True)
        return 1
    try:
        return run_checks(b, args)
    finally:
        b.quit()


def run_checks(b, args):
    try:
        member_checks(b, args, read_token(args.member_token_file))
        if args.fed_job:
            federated_checks(b, args, read_token(args.member_token_file))
        if args.program_job:
            program_checks(b, args, read_token(args.member_token_file))
        operator_checks(b, args, read_token(args.operator_token_file))
        bad = b.severe_console()
        check(not bad, 'severe errors in the browser console:\n  ' + '\n  '.join(bad))
        ok('no severe errors in the browser console (%d entries)' % len(b.console))
        return 0
    except Failure as e:
        print('FAIL: %s' % e, flush=True)
    except Exception as e:
        print('FAIL: %s: %s' % (type(e).__name__, e), flush=True)
    try:
        shot = os.path.join(args.out, 'failure.png')
        b.driver.save_screenshot(shot)
        print('screenshot at the failure: %s' % shot)
        b.drain_console()
        for e in b.console:
            print('console %s: %s' % (e.get('level'), e.get('message')))
    except Exception:
        pass
    return 1


if __name__ == '__main__':
    sys.exit(main())
