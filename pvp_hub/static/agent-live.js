// The agent's page, live: every few seconds, fetch the list of visitors from the hub
// (/agent/visiteurs, the same HTML the page was drawn with) and put it in place when it
// changed. New visitors are announced in the page's polite live region. Without
// JavaScript the page works as it is, with its "reload" link. No library, no other site.
"use strict";
(function () {
  var live = document.getElementById("live");
  var announce = document.getElementById("announce");
  if (!live || !announce || !window.fetch || !window.DOMParser) {
    return;
  }
  var every = Math.max(2, parseInt(live.getAttribute("data-every"), 10) || 5) * 1000;
  var source = live.getAttribute("data-src");

  function rows(root) {
    var found = {};
    root.querySelectorAll("tr[data-visit]").forEach(function (row) {
      found[row.getAttribute("data-visit")] = row.getAttribute("data-announce") || "";
    });
    // A long list is drawn first in part: the visitors not drawn yet are not new.
    var more = root.querySelector("[data-visits]");
    if (more) {
      more.getAttribute("data-visits").split(" ").forEach(function (id) {
        if (id && !(id in found)) {
          found[id] = "";
        }
      });
    }
    return found;
  }

  function version(root) {
    var box = root.querySelector(".live");
    return box ? box.getAttribute("data-version") : "";
  }

  var known = rows(live);

  function update(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").body;
    if (version(fresh) === version(live)) {
      return false;
    }
    // Keep the keyboard where it was: the same link in the new list, by its id.
    var focused = document.activeElement && live.contains(document.activeElement)
      ? document.activeElement.id : null;
    live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
    if (focused && document.getElementById(focused)) {
      document.getElementById(focused).focus();
    }
    var now = rows(live);
    var said = [];
    Object.keys(now).forEach(function (id) {
      if (!(id in known) && now[id]) {
        said.push(now[id]);
      }
    });
    known = now;
    if (said.length) {
      announce.textContent = said.join(" ");
    }
    return true;
  }

  function tick() {
    var started = performance.now();
    var url = source + "?v=" + encodeURIComponent(version(live));
    fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "manual" })
      .then(function (answer) {
        if (answer.status === 204) {
          return ""; // nothing changed
        }
        if (answer.status !== 200) {
          // Signed out or session over: the reload link leads to the sign-in page.
          live.setAttribute("data-stopped", String(answer.status || "signed-out"));
          return null;
        }
        return answer.text();
      })
      .then(function (html) {
        if (html !== null) {
          var changed = html !== "" && update(html);
          // How long the last poll that changed the list took, request to swap (measured
          // by benchmarks/bench_agent_page.py).
          if (changed) {
            live.setAttribute("data-updated-ms", String(Math.round(performance.now() - started)));
            if (drawnInPart && !partial()) {
              drawnInPart = false;
              performance.mark("pvp-list-whole"); // the whole list on the page (the benchmark)
            }
          }
          window.setTimeout(tick, every);
        }
      })
      .catch(function () {
        window.setTimeout(tick, every * 2); // the hub is unreachable: try again later
      });
  }

  function partial() {
    return live.querySelector("[data-visits]") !== null;
  }

  // A list drawn in part: the rest at once, not after the poll's interval.
  var drawnInPart = partial();
  if (drawnInPart) {
    tick();
  } else {
    window.setTimeout(tick, every);
  }
})();
