/* Steun study pages: save every answer at once, show/hide branched items, private labels.
 * Works without this script too: every page is a plain form that posts its answers. */
(function () {
  "use strict";

  // --- private labels: only in this browser's localStorage, never sent -------------------------
  function labelKey(ns, code) { return "steun.label." + ns + "." + code; }
  function readLabel(ns, code) {
    try { return window.localStorage.getItem(labelKey(ns, code)) || ""; } catch (e) { return ""; }
  }
  function setupLabels() {
    document.querySelectorAll("[data-label-ns]").forEach(function (scope) {
      var ns = scope.getAttribute("data-label-ns");
      scope.querySelectorAll("[data-child-label]").forEach(function (el) {
        el.textContent = readLabel(ns, el.getAttribute("data-child-label"));
      });
      scope.querySelectorAll("[data-label-input]").forEach(function (input) {
        var code = input.getAttribute("data-label-input");
        input.value = readLabel(ns, code);
        input.addEventListener("input", function () {
          try {
            if (input.value.trim()) window.localStorage.setItem(labelKey(ns, code), input.value.trim());
            else window.localStorage.removeItem(labelKey(ns, code));
          } catch (e) { /* private mode: nothing stored */ }
          scope.querySelectorAll('[data-child-label="' + code + '"]').forEach(function (el) {
            el.textContent = input.value.trim();
          });
        });
      });
    });
  }

  // --- branching: the same rules as steun_lti/questionnaires/branching.py ------------------------
  function same(a, b) { return String(a) === String(b); }
  function holds(c, answers) {
    if (c.all) return c.all.every(function (s) { return holds(s, answers); });
    if (c.any) return c.any.some(function (s) { return holds(s, answers); });
    if (c.not) return !holds(c.not, answers);
    var v = answers[c.item];
    var has = v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
    if ("answered" in c && has !== c.answered) return false;
    if (!has) return Object.keys(c).every(function (k) { return k === "item" || k === "answered"; }) && c.answered === false;
    if ("equals" in c && !same(v, c.equals)) return false;
    if ("not_equals" in c && same(v, c.not_equals)) return false;
    if ("in" in c && !c["in"].some(function (x) { return same(v, x); })) return false;
    if ("includes" in c && !(Array.isArray(v) ? v : [v]).some(function (x) { return same(x, c.includes); })) return false;
    if ("min" in c && !(Number(v) >= c.min)) return false;
    if ("max" in c && !(Number(v) <= c.max)) return false;
    return true;
  }

  function valueOf(fieldset) {
    var type = fieldset.getAttribute("data-type");
    if (type === "multiple") {
      return Array.prototype.map.call(fieldset.querySelectorAll("input:checked"), function (i) { return i.value; });
    }
    if (type === "number" || type === "text") {
      var el = fieldset.querySelector("input, textarea");
      return el.value.trim() === "" ? null : el.value;
    }
    var checked = fieldset.querySelector("input:checked");
    return checked ? checked.value : null;
  }

  function setupQuestionnaire(form) {
    var answers = {};
    try { answers = JSON.parse(document.getElementById("answers-data").textContent) || {}; } catch (e) { answers = {}; }
    var saveUrl = form.getAttribute("data-save-url");
    var csrf = form.getAttribute("data-csrf");
    var pendingKey = "steun.pending." + form.getAttribute("data-attempt");
    var live = document.getElementById("live");
    var progress = document.getElementById("progress");
    var progressText = document.getElementById("progress-text");
    var pending = {};
    try { pending = JSON.parse(window.localStorage.getItem(pendingKey) || "{}"); } catch (e) { pending = {}; }
    var retryTimer = null;

    function announce(msg) { if (live) { live.textContent = ""; window.setTimeout(function () { live.textContent = msg; }, 30); } }
    function keepPending() { try { window.localStorage.setItem(pendingKey, JSON.stringify(pending)); } catch (e) { /* ignore */ } }
    function answered(v) { return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0); }

    function updateProgress() {
      if (!progress) return;
      var shown = 0, done = 0;
      // items on other pages: keep the server's counts, adjust for this page
      var base = Number(progress.getAttribute("max")), baseDone = Number(progress.getAttribute("value"));
      if (!form.dataset.baseShown) {
        form.querySelectorAll("fieldset[data-item]").forEach(function (fs) {
          if (!fs.hidden) { shown += 1; if (answered(answers[fs.getAttribute("data-item")])) done += 1; }
        });
        form.dataset.baseShown = String(base - shown);
        form.dataset.baseDone = String(baseDone - done);
      }
      shown = 0; done = 0;
      form.querySelectorAll("fieldset[data-item]").forEach(function (fs) {
        if (!fs.hidden) { shown += 1; if (answered(answers[fs.getAttribute("data-item")])) done += 1; }
      });
      var total = Number(form.dataset.baseShown) + shown, got = Number(form.dataset.baseDone) + done;
      progress.setAttribute("max", String(total));
      progress.value = got;
      progress.textContent = Math.round(100 * got / Math.max(total, 1)) + "%";
      if (progressText) progressText.textContent = form.getAttribute("data-msg-progress").replace("%(answered)s", got).replace("%(shown)s", total);
    }

    function applyBranching() {
      form.querySelectorAll("fieldset[data-show-if]").forEach(function (fs) {
        var cond = JSON.parse(fs.getAttribute("data-show-if"));
        fs.hidden = !holds(cond, answers);
      });
    }

    function mark(fieldset, text, failed) {
      var state = fieldset.querySelector(".save-state");
      if (state) { state.textContent = text; state.classList.toggle("failed", !!failed); }
    }

    // An answered question is no longer in error: drop its message, its entry in the summary
    // (and the summary once it is empty).
    function clearError(fieldset, item) {
      if (!answered(answers[item])) return;
      fieldset.classList.remove("has-error");
      var message = document.getElementById("err-" + item);
      if (message) message.remove();
      var described = (fieldset.getAttribute("aria-describedby") || "").replace("err-" + item, "").trim();
      if (described) fieldset.setAttribute("aria-describedby", described);
      else fieldset.removeAttribute("aria-describedby");
      var entry = document.getElementById("sum-" + item);
      if (entry) {
        var list = entry.parentNode;
        entry.remove();
        if (list && !list.children.length) {
          var summary = document.getElementById("error-summary");
          if (summary) summary.remove();
        }
      }
    }

    function send(item, value) {
      var fieldset = form.querySelector('fieldset[data-item="' + item + '"]');
      pending[item] = value; keepPending();
      if (fieldset) mark(fieldset, form.getAttribute("data-msg-saving"), false);
      return window.fetch(saveUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ item: item, value: value })
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok) {
            if (pending[item] === value) { delete pending[item]; keepPending(); }
            if (fieldset) { mark(fieldset, "✓ " + form.getAttribute("data-msg-saved"), false); clearError(fieldset, item); }
            announce(form.getAttribute("data-msg-saved"));
            return;
          }
          if (response.status >= 500 || response.status === 0) throw new Error("server");
          if (response.status === 401) {  // the session ended: keep the answer here, sent after a new launch
            if (fieldset) mark(fieldset, body.message || form.getAttribute("data-msg-error"), true);
            announce(body.message || form.getAttribute("data-msg-error"));
            return;
          }
          delete pending[item]; keepPending();  // refused for good: say why, keep the page usable
          if (fieldset) mark(fieldset, body.message || form.getAttribute("data-msg-error"), true);
          announce(body.message || form.getAttribute("data-msg-error"));
        });
      }).catch(function () {
        if (fieldset) mark(fieldset, form.getAttribute("data-msg-offline"), true);
        announce(form.getAttribute("data-msg-offline"));
        scheduleRetry();
      });
    }

    function flush() {
      retryTimer = null;
      Object.keys(pending).forEach(function (item) { send(item, pending[item]); });
    }
    function scheduleRetry() { if (!retryTimer) retryTimer = window.setTimeout(flush, 4000); }
    window.addEventListener("online", flush);

    var debounce = {};
    function changed(fieldset, immediate) {
      var item = fieldset.getAttribute("data-item");
      var value = valueOf(fieldset);
      answers[item] = value;
      applyBranching();
      updateProgress();
      window.clearTimeout(debounce[item]);
      if (immediate) send(item, value);
      else debounce[item] = window.setTimeout(function () { send(item, value); }, 600);
    }

    if (!form.querySelector("input:disabled, textarea:disabled")) {
      form.querySelectorAll("fieldset[data-item]").forEach(function (fs) {
        fs.addEventListener("change", function () { changed(fs, true); });
        fs.querySelectorAll("input[type=text], textarea").forEach(function (el) {
          el.addEventListener("input", function () { changed(fs, false); });
        });
      });
    }
    applyBranching();
    updateProgress();
    if (Object.keys(pending).length) flush();
    form.dataset.ready = "1";

    // resume: bring the first unanswered item into view and focus
    var hash = window.location.hash;
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
    else if (hash && hash.indexOf("#item-") === 0) {
      var target = document.getElementById(hash.slice(1));
      var input = target && target.querySelector("input, textarea");
      var focusResume = function () {
        if (input && document.activeElement !== input) {
          input.focus({ preventScroll: true });
          target.scrollIntoView({ block: "center" });
        }
      };
      focusResume();
      // the browser's own jump to the fragment moves focus to the page; take it back after it
      window.addEventListener("load", function () { window.setTimeout(focusResume, 0); });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupLabels();
    var form = document.getElementById("questionnaire");
    if (form) setupQuestionnaire(form);
  });
})();
