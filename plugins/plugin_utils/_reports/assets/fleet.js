(function () {
  'use strict';
  // Layout of the data block (written by _reports/html.py): every string is an
  // index into D.S (-1 = none).
  //   groups[g] = [title, kind, severity code, explanation, [host index], id]
  //   hosts[h]  = [name, [inventory group], state (0 compliant, 1 non-compliant, 2 not audited), mode,
  //                policy id, [error], findings, listeners, ignored, drift (JSON text)]
  //   finding   = [group index, severity code, status, status reason, listener index, rule, severity reasons, where]
  //   listener  = [text, owner, processes, verdict, exposure]
  //   ignored   = [listener text, owner, setting that ignored it]
  // Host values reach the page through textContent only: they are data, never markup.
  var D = JSON.parse(document.getElementById('data').textContent);
  var S = D.S, M = D.meta, SEV = M.severities, LETTER = ['C', 'H', 'M', 'L', 'I', '?'];
  var ROW = 22, MAXCOLS = 60;
  var VISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

  function str(i) { return i < 0 || i === undefined ? '' : S[i]; }
  var hostName = D.hosts.map(function (h) { return str(h[0]); });
  // Control and bidi characters shown as escapes: inert text can still mislead a reader.
  function vis(text) {
    return String(text).replace(VISIBLE, function (c) { return '\\u' + ('000' + c.charCodeAt(0).toString(16)).slice(-4); });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) {
      var t = vis(text);
      if (t.length > 300) { e.title = t; t = t.slice(0, 297) + '...'; }
      e.textContent = t;
    }
    return e;
  }
  function $(id) { return document.getElementById(id); }
  function sevLabel(code) {
    var s = el('span', 'sev s' + code, SEV[code] || 'unknown');
    return s;
  }

  // ---- header, provenance, drift
  var T = M.totals;
  $('totals').textContent = T.hosts + ' host(s): ' + T.hosts_compliant + ' compliant, ' + T.hosts_noncompliant +
    ' non-compliant, ' + T.hosts_not_audited + ' not audited; ' + T.findings + ' finding(s) on ' + T.listeners +
    ' listener(s); ' + T.ignored_listeners + ' listener(s) ignored by settings. Generated ' + (M.generated || '?') + '.';
  $('compliance').textContent = (M.compliance && M.compliance.text) || '';
  var P = M.provenance || {}, prov = $('prov');
  function dd(name, value) { prov.appendChild(el('dt', '', name)); prov.appendChild(el('dd', '', value)); }
  dd('Collection', 'hostsec.ports ' + (P.collection_version || 'unknown'));
  dd('Knowledge base', (P.kb && P.kb.text) || 'unknown');
  if (P.query) { dd('Query', P.query); }
  var hostsByPolicy = {};
  D.hosts.forEach(function (h) { var k = str(h[4]); (hostsByPolicy[k] = hostsByPolicy[k] || []).push(str(h[0])); });
  Object.keys(M.policies).sort().forEach(function (pid) {
    var pol = M.policies[pid], box = el('div');
    var users = hostsByPolicy[pid] || [];
    box.appendChild(el('h3', '', 'Policy ' + pid + ' (' + users.length + ' host(s): ' + users.slice(0, 10).join(', ') +
      (users.length > 10 ? ' ...' : '') + ')'));
    var ul = el('ul');
    ['allow', 'deny', 'require'].forEach(function (list) {
      (pol[list] || []).forEach(function (r) {
        ul.appendChild(el('li', '', list + '[' + r.index + '] ' + r.text + ' (from ' + r.origin + ')' +
          (r.expires ? ', expires ' + r.expires : '')));
      });
    });
    var so = pol.settings_origin || {};
    Object.keys(pol.settings || {}).sort().forEach(function (k) {
      ul.appendChild(el('li', '', 'settings.' + k + ': ' + JSON.stringify(pol.settings[k]) + ' (from ' + (so[k] || '?') + ')'));
    });
    box.appendChild(ul);
    $('policy-list').appendChild(box);
  });
  if (M.drift) {
    $('drift-text').textContent = M.drift.text + (M.drift.baseline && M.drift.baseline.name ? ' (baseline ' + M.drift.baseline.name + ')' : '');
    (M.drift.warnings || []).forEach(function (w) { $('drift-list').appendChild(el('li', '', 'warning: ' + w)); });
    D.hosts.forEach(function (h, hi) {
      if (h[9] < 0) { return; }
      var d = JSON.parse(str(h[9])), li = el('li');
      li.appendChild(hostButton(hi));
      li.appendChild(document.createTextNode(' ' + d.state + (d.was && d.result && d.was !== d.result ? ' (' + d.was + ' -> ' + d.result + ')' : '')));
      var sub = el('ul');
      [['listeners_new', 'new listener'], ['listeners_gone', 'gone listener'], ['listeners_changed', 'changed listener'],
        ['findings_new', 'new finding'], ['findings_gone', 'gone finding'], ['findings_changed', 'changed finding']].forEach(function (p) {
        (d[p[0]] || []).forEach(function (t) { sub.appendChild(el('li', 'drift-' + p[0], p[1] + ': ' + t)); });
      });
      li.appendChild(sub);
      $('drift-list').appendChild(li);
    });
    M.vanished.forEach(function (name) { $('drift-list').appendChild(el('li', '', name + ': vanished (in the baseline, not in this run)')); });
  } else {
    $('drift').hidden = true;
  }

  // ---- filters
  var F = { sev: SEV.map(function () { return true; }), kind: '', group: '', host: '', q: '', clean: false };
  var kinds = {}, invGroups = {};
  D.groups.forEach(function (g) { kinds[str(g[1])] = 1; });
  D.hosts.forEach(function (h) { h[1].forEach(function (g) { invGroups[str(g)] = 1; }); });
  SEV.forEach(function (name, i) {
    var lab = el('label'), box = el('input');
    box.type = 'checkbox'; box.checked = true; box.value = String(i); box.id = 'f-sev-' + name;
    box.addEventListener('change', function () { F.sev[i] = box.checked; apply(); });
    lab.appendChild(box); lab.appendChild(document.createTextNode(' ' + name + ' '));
    $('f-sev').appendChild(lab);
  });
  function fillSelect(sel, values) {
    Object.keys(values).sort().forEach(function (v) { var o = el('option', '', v); o.value = v; sel.appendChild(o); });
  }
  fillSelect($('f-kind'), kinds);
  fillSelect($('f-group'), invGroups);
  var timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(apply, 150); }
  $('f-kind').addEventListener('change', function () { F.kind = this.value; apply(); });
  $('f-group').addEventListener('change', function () { F.group = this.value; apply(); });
  $('f-host').addEventListener('input', function () { F.host = this.value.toLowerCase(); later(); });
  $('f-q').addEventListener('input', function () { F.q = this.value.toLowerCase(); later(); });
  $('f-clean').addEventListener('change', function () { F.clean = this.checked; apply(); });
  $('f-reset').addEventListener('click', function () {
    F = { sev: SEV.map(function () { return true; }), kind: '', group: '', host: '', q: '', clean: false };
    syncControls(); apply();
  });
  function syncControls() {
    SEV.forEach(function (name, i) { $('f-sev-' + name).checked = F.sev[i]; });
    $('f-kind').value = F.kind; $('f-group').value = F.group; $('f-host').value = F.host; $('f-q').value = F.q;
    $('f-clean').checked = F.clean;
  }

  // Lower-cased search text per group, made once.
  var groupText = D.groups.map(function (g) { return (str(g[0]) + ' ' + str(g[3])).toLowerCase(); });
  var hostLower = hostName.map(function (n) { return n.toLowerCase(); });

  var shownHosts = [], shownGroups = [], cellOf = [];
  function findingShown(f, hi) {
    if (!F.sev[f[1]] && f[1] < SEV.length) { return false; }
    var g = D.groups[f[0]];
    if (F.kind && (!g || str(g[1]) !== F.kind)) { return false; }
    if (F.q && !(groupText[f[0]] || '').includes(F.q) && !hostLower[hi].includes(F.q) &&
      !str(f[7]).toLowerCase().includes(F.q)) { return false; }
    return true;
  }
  function apply() {
    var findingFilter = F.q || F.kind || F.sev.some(function (v) { return !v; });
    var groupHits = D.groups.map(function () { return 0; });
    shownHosts = []; cellOf = [];
    D.hosts.forEach(function (h, hi) {
      if (F.host && !hostLower[hi].includes(F.host)) { return; }
      if (F.group && !h[1].some(function (g) { return str(g) === F.group; })) { return; }
      var cells = {}, any = false;
      h[6].forEach(function (f) {
        if (!findingShown(f, hi)) { return; }
        any = true;
        if (f[0] >= 0) {
          if (cells[f[0]] === undefined || f[1] < cells[f[0]]) { cells[f[0]] = f[1]; }
        }
      });
      if (!any && (findingFilter || F.clean) && h[2] !== 2) { return; }
      Object.keys(cells).forEach(function (g) { groupHits[g] += 1; });
      cellOf[hi] = cells;
      shownHosts.push(hi);
    });
    shownGroups = [];
    groupHits.forEach(function (n, gi) { if (n) { shownGroups.push(gi); } });
    shownGroups.sort(function (a, b) { return groupHits[b] - groupHits[a] || D.groups[a][2] - D.groups[b][2] || a - b; });
    $('shown').textContent = shownHosts.length + ' of ' + D.hosts.length + ' hosts, ' + shownGroups.length + ' of ' +
      D.groups.length + ' finding groups shown';
    drawHead(); drawRows(true); drawGroups(groupHits); saveHash();
  }

  // ---- matrix: fixed-height rows, only those in view are in the DOM
  var matrix = $('matrix'), mbody = $('mbody'), mspace = $('mspace');
  function columns() { return shownGroups.slice(0, MAXCOLS); }
  function drawHead() {
    var head = $('mhead');
    head.replaceChildren(el('div', 'hcell', 'host'), el('div', 'state', 'result'));
    columns().forEach(function (gi) {
      var c = el('div', 'colh', str(D.groups[gi][0]));
      c.title = str(D.groups[gi][0]) + ' (' + SEV[D.groups[gi][2]] + ')';
      c.setAttribute('role', 'columnheader');
      c.dataset.group = str(D.groups[gi][5]);
      head.appendChild(c);
    });
    if (shownGroups.length > MAXCOLS) { head.appendChild(el('div', 'colh', (shownGroups.length - MAXCOLS) + ' more')); }
  }
  var drawn = {};
  function drawRows(reset) {
    if (reset) { mbody.replaceChildren(mspace); drawn = {}; }
    mspace.style.height = (shownHosts.length * ROW) + 'px';
    var top = Math.max(0, Math.floor(matrix.scrollTop / ROW) - 4);
    var end = Math.min(shownHosts.length, top + Math.ceil((matrix.clientHeight || 600) / ROW) + 8);
    var cols = columns(), keep = {};
    for (var r = top; r < end; r++) {
      keep[r] = 1;
      if (drawn[r]) { continue; }
      var hi = shownHosts[r], h = D.hosts[hi], row = el('div', 'mrow body');
      row.setAttribute('role', 'row');
      row.dataset.host = hostName[hi];
      row.style.top = (r * ROW) + 'px';
      var hc = el('div', 'hcell');
      hc.appendChild(hostButton(hi));
      row.appendChild(hc);
      row.appendChild(el('div', 'state st' + h[2], M.states[h[2]]));
      var cells = cellOf[hi] || {};
      cols.forEach(function (gi) {
        var sev = cells[gi], c = el('div', 'cell' + (sev === undefined ? '' : ' s' + sev), sev === undefined ? '\u00b7' : LETTER[sev]);
        c.setAttribute('role', 'gridcell');
        c.dataset.group = str(D.groups[gi][5]);
        if (sev !== undefined) { c.dataset.sev = SEV[sev]; c.title = hostName[hi] + ': ' + str(D.groups[gi][0]) + ' (' + SEV[sev] + ')'; }
        row.appendChild(c);
      });
      if (shownGroups.length > MAXCOLS) {
        var more = 0;
        shownGroups.slice(MAXCOLS).forEach(function (gi) { if (cells[gi] !== undefined) { more++; } });
        row.appendChild(el('div', 'cell', more ? '+' + more : ''));
      }
      drawn[r] = row;
      mbody.appendChild(row);
    }
    Object.keys(drawn).forEach(function (r) { if (!keep[r]) { drawn[r].remove(); delete drawn[r]; } });
  }
  matrix.addEventListener('scroll', function () { drawRows(false); });

  function hostButton(hi) {
    var b = el('button', 'host-link', hostName[hi]);
    b.type = 'button';
    b.dataset.host = hostName[hi];
    b.addEventListener('click', function () { openHost(hi); });
    return b;
  }

  // ---- grouped findings; a group's host list is drawn when it is opened
  function drawGroups(groupHits) {
    var box = $('groups'), frag = document.createDocumentFragment();
    shownGroups.forEach(function (gi) {
      var g = D.groups[gi], d = el('details', 'grp');
      d.dataset.group = str(g[5]);
      var sum = el('summary');
      sum.appendChild(sevLabel(g[2]));
      sum.appendChild(document.createTextNode(' ' + vis(str(g[0])) + ' on ' + groupHits[gi] + ' host(s)' +
        (groupHits[gi] !== g[4].length ? ' shown (' + g[4].length + ' in all)' : '')));
      d.appendChild(sum);
      d.addEventListener('toggle', function () { if (d.open && d.childNodes.length === 1) { fillGroup(d, gi); } });
      frag.appendChild(d);
    });
    if (!shownGroups.length) { frag.appendChild(el('p', 'muted', 'No findings match the filters.')); }
    box.replaceChildren(frag);
  }
  function fillGroup(d, gi) {
    var g = D.groups[gi];
    d.appendChild(el('p', '', str(g[3])));
    var byGroup = {};
    g[4].forEach(function (hi) {
      if (cellOf[hi] === undefined || cellOf[hi][gi] === undefined) { return; }
      var inv = D.hosts[hi][1].length ? D.hosts[hi][1].map(str).join(', ') : '(no group)';
      (byGroup[inv] = byGroup[inv] || []).push(hi);
    });
    Object.keys(byGroup).sort().forEach(function (inv) {
      var p = el('p', 'hosts');
      p.appendChild(el('strong', '', inv + ': '));
      byGroup[inv].forEach(function (hi) { p.appendChild(hostButton(hi)); });
      d.appendChild(p);
    });
  }

  // ---- per-host drill-down
  function table(caption, heads, rows) {
    var t = el('table'), cap = el('caption', '', caption), tr = el('tr');
    t.appendChild(cap);
    heads.forEach(function (h) { var th = el('th', '', h); th.scope = 'col'; tr.appendChild(th); });
    var thead = el('thead'); thead.appendChild(tr); t.appendChild(thead);
    var tb = el('tbody');
    rows.forEach(function (cells) {
      var r = el('tr');
      cells.forEach(function (c, ci) {
        var td = el('td');
        if (c instanceof Node) { td.appendChild(c); } else { td.appendChild(el('span', ci === 0 || ci === 2 ? 'mono' : '', c)); }
        r.appendChild(td);
      });
      tb.appendChild(r);
    });
    t.appendChild(tb);
    return t;
  }
  var openHostIndex = -1;
  function openHost(hi) {
    var h = D.hosts[hi], body = $('detail-body'), frag = document.createDocumentFragment();
    openHostIndex = hi;
    $('detail-h').textContent = vis(hostName[hi]);
    frag.appendChild(el('p', 'st' + h[2], M.states[h[2]] + ' - mode ' + str(h[3]) +
      (h[1].length ? ' - groups ' + h[1].map(str).join(', ') : '') + (h[4] >= 0 ? ' - policy ' + str(h[4]) : '')));
    h[5].forEach(function (e) { frag.appendChild(el('p', 'st1', 'error: ' + str(e))); });
    var byListener = {};
    h[6].forEach(function (f) { if (f[4] >= 0) { (byListener[f[4]] = byListener[f[4]] || []).push(f); } });
    frag.appendChild(table('Listeners (' + h[7].length + ')', ['listener', 'owner / unit', 'processes', 'allowed by / finding'],
      h[7].map(function (l, li) {
        var v = str(l[3]);
        if (byListener[li]) {
          var box = el('span');
          byListener[li].forEach(function (f) {
            box.appendChild(sevLabel(f[1]));
            box.appendChild(document.createTextNode(' ' + vis(str((D.groups[f[0]] || [])[1])) +
              ' - ' + str(f[2]) + ' '));
          });
          v = box;
        }
        return [str(l[0]) + ' (' + str(l[4]) + ')', str(l[1]), str(l[2]), v];
      })));
    frag.appendChild(table('Findings (' + h[6].length + ')', ['severity', 'finding', 'status', 'rule', 'knowledge base explanation'],
      h[6].map(function (f) {
        var g = D.groups[f[0]] || [];
        var sev = el('span'); sev.appendChild(sevLabel(f[1])); sev.appendChild(el('div', 'muted', str(f[6])));
        return [sev, str(g[0]) + ' on ' + str(f[7]), str(f[2]) + ': ' + str(f[3]), str(f[5]) || '-', str(g[3])];
      })));
    if (h[8].length) {
      frag.appendChild(table('Ignored listeners (not judged)', ['listener', 'owner', 'ignored by'],
        h[8].map(function (i) { return [str(i[0]), str(i[1]), str(i[2])]; })));
    }
    body.replaceChildren(frag);
    $('detail').hidden = false;
    $('detail').scrollIntoView();
    saveHash();
  }
  $('detail-close').addEventListener('click', function () { $('detail').hidden = true; openHostIndex = -1; saveHash(); });

  // ---- filter state in the URL fragment, so a view can be pasted into a ticket
  function saveHash() {
    var p = new URLSearchParams();
    if (F.sev.some(function (v) { return !v; })) { p.set('sev', SEV.filter(function (s, i) { return F.sev[i]; }).join(',')); }
    ['kind', 'group', 'host', 'q'].forEach(function (k) { if (F[k]) { p.set(k, F[k]); } });
    if (F.clean) { p.set('clean', '1'); }
    if (openHostIndex >= 0) { p.set('open', hostName[openHostIndex]); }
    var text = p.toString();
    if (('#' + text) !== location.hash && !(text === '' && location.hash === '')) { history.replaceState(null, '', '#' + text); }
  }
  function loadHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    if (p.has('sev')) { var on = p.get('sev').split(','); F.sev = SEV.map(function (s) { return on.indexOf(s) >= 0; }); }
    ['kind', 'group', 'host', 'q'].forEach(function (k) { if (p.has(k)) { F[k] = p.get(k); } });
    F.clean = p.get('clean') === '1';
    syncControls();
    return p.get('open');
  }

  // ---- print: every group opened with its hosts, restored afterwards
  var wasClosed = [];
  window.addEventListener('beforeprint', function () {
    wasClosed = [];
    document.querySelectorAll('details.grp').forEach(function (d) { if (!d.open) { d.open = true; wasClosed.push(d); } });
    Array.prototype.forEach.call(document.querySelectorAll('details.grp'), function (d, i) {
      if (d.childNodes.length === 1) { fillGroup(d, shownGroups[i]); }
    });
  });
  window.addEventListener('afterprint', function () { wasClosed.forEach(function (d) { d.open = false; }); });

  var toOpen = loadHash();
  apply();
  if (toOpen !== null) { var i = hostName.indexOf(toOpen); if (i >= 0) { openHost(i); } }
  document.body.dataset.ready = '1';
}());
