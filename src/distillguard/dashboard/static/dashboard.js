// DistillGuard dashboard: draws the charts, keeps the live numbers fresh, sends analyst actions.
// Values from the server are only ever set with textContent (never innerHTML).
(function () {
  "use strict";
  var meta = function (name) { var m = document.querySelector('meta[name="' + name + '"]'); return m ? m.content : ""; };
  var base = meta("dg-base"), csrf = meta("csrf-token");
  var views = {};

  document.querySelectorAll("[data-spec]").forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
    vegaEmbed(el, spec, {renderer: "svg", actions: false})
      .then(function (r) { views[el.id] = r.view; })
      .catch(function (err) { el.textContent = "chart failed: " + err; });
  });

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }
  function fill(id, rows, render) {
    var body = document.getElementById(id);
    if (!body) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (r) { var tr = document.createElement("tr"); render(tr, r); body.appendChild(tr); });
  }
  function set(id, text) { var el = document.getElementById(id); if (el) { el.textContent = text; } }
  var fmt = new Intl.NumberFormat("en-US");

  function refresh() {
    fetch(base + "/api/stats", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (r.status === 401) { location.href = base + "/login"; } return r.json(); })
      .then(function (s) {
        set("live-rps", s.requests_per_second.toFixed(1));
        set("live-total", fmt.format(s.total_requests));
        set("live-backend", s.state_backend);
        set("live-ts", s.ts.replace("T", " ").slice(0, 19) + " UTC");
        var acted = 0;
        Object.keys(s.actions_per_minute).forEach(function (k) { if (k !== "allow") { acted += s.actions_per_minute[k]; } });
        set("live-acted", fmt.format(acted));
        fill("live-actions", Object.keys(s.actions_per_minute).map(function (k) { return [k, s.actions_per_minute[k]]; }),
          function (tr, r) { cell(tr, r[0]); cell(tr, fmt.format(r[1]), "n"); });
        fill("live-campaigns", s.top_campaigns, function (tr, c) {
          var td = cell(tr, "");
          var a = document.createElement("a"); a.href = base + "/campaigns/" + encodeURIComponent(c.campaign_id);
          a.textContent = c.campaign_id; td.appendChild(a);
          cell(tr, fmt.format(c.requests_per_minute), "n"); cell(tr, fmt.format(c.refused_per_minute), "n");
          cell(tr, fmt.format(c.accounts), "n"); cell(tr, c.state || (c.blocked ? "blocked by an analyst" : "active (served)"));
        });
        fill("live-events", s.recent_events.slice(0, 15), function (tr, e) {
          cell(tr, e.ts.replace("T", " ").slice(0, 19)); cell(tr, e.action); cell(tr, e.code);
          cell(tr, e.account_id); cell(tr, e.campaign_id); cell(tr, e.reason);
        });
        var view = views["chart-live"];
        if (view) {
          var limit = Number(meta("live-points")) || 90;
          view.insert("live", [{t: Date.parse(s.ts), rps: s.requests_per_second}]).run();
          var data = view.data("live");
          if (data.length > limit) { view.remove("live", data.slice(0, data.length - limit)).run(); }
        }
      })
      .catch(function () { set("live-ts", "gateway not answering"); });
  }
  if (document.getElementById("live")) { refresh(); setInterval(refresh, 2000); }

  document.querySelectorAll("form.action").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var data = {};
      new FormData(form).forEach(function (v, k) { if (k !== "csrf_token" && k !== "back") { data[k] = v; } });
      var out = form.querySelector(".result");
      fetch(base + "/api/actions", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify(data)
      }).then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
        .then(function (res) {
          if (res[0] === 200) { location.reload(); return; }
          if (out) { out.textContent = res[1].error || ("failed: " + res[0]); }
        })
        .catch(function (err) { if (out) { out.textContent = "failed: " + err; } });
    });
  });
})();
