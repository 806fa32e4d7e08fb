/* Steun course runtime: navigation, exercises and the SCORM connection (1.2 and 2004).
 * Plain ES5-style JavaScript, no dependencies, nothing loaded from elsewhere.
 * One owner of the LMS connection (`lms`); state packed compactly into suspend_data. */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("steun-config").textContent);
  var is12 = cfg.standard === "scorm12";
  var SUSPEND_LIMIT = is12 ? 4096 : 64000;
  var LOCATION_LIMIT = is12 ? 255 : 1000;
  var startedAt = Date.now();

  // ------------------------------------------------------------------ time formats
  function sessionTime(ms) {
    return is12 ? cmiTimespan(ms) : isoDuration(ms);
  }
  function cmiTimespan(ms) { // SCORM 1.2 CMITimespan HHHH:MM:SS.SS
    var cs = Math.max(0, Math.round(ms / 10));
    var h = Math.min(Math.floor(cs / 360000), 9999);
    var m = Math.floor((cs % 360000) / 6000);
    var sc = cs % 6000;
    return pad(h, 4) + ":" + pad(m, 2) + ":" + pad(Math.floor(sc / 100), 2) + "." + pad(sc % 100, 2);
  }
  function isoDuration(ms) { // ISO 8601 duration: PT1H2M3.45S, never "PT" alone
    var cs = Math.max(0, Math.round(ms / 10));
    var h = Math.floor(cs / 360000);
    var m = Math.floor((cs % 360000) / 6000);
    var sc = cs % 6000;
    var s = String(Math.floor(sc / 100));
    if (sc % 100) s += "." + pad(sc % 100, 2).replace(/0$/, "");
    var out = "PT" + (h ? h + "H" : "") + (m ? m + "M" : "");
    if (sc || (!h && !m)) out += s + "S";
    return out;
  }
  function pad(n, width) {
    var s = String(n);
    while (s.length < width) s = "0" + s;
    return s;
  }
  function clockTime(d) { // SCORM 1.2 CMITime HH:MM:SS
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2);
  }
  function timestamp(d) { // SCORM 2004 time(second,10,0), local time without zone
    return d.getFullYear() + "-" + pad(d.getMonth() + 1, 2) + "-" + pad(d.getDate(), 2) + "T" + clockTime(d);
  }

  // ------------------------------------------------------------------ API discovery
  var API_NAME = is12 ? "API" : "API_1484_11";
  function scan(win) {
    for (var hops = 0; win && hops < 12; hops++) {
      try {
        if (win[API_NAME]) return win[API_NAME];
      } catch (e) { /* cross-origin frame: keep climbing */ }
      var parent = null;
      try { parent = win.parent; } catch (e2) { parent = null; }
      if (!parent || parent === win) break;
      win = parent;
    }
    return null;
  }
  function discoverApi() {
    var api = scan(window);
    if (api) return api;
    var candidates = [];
    try { candidates.push(window.opener); } catch (e) { /* ignore */ }
    try { candidates.push(window.top.opener); } catch (e2) { /* ignore */ }
    for (var i = 0; i < candidates.length; i++) {
      if (candidates[i]) {
        api = scan(candidates[i]);
        if (api) return api;
      }
    }
    return null;
  }

  // A stand-in LMS in localStorage, for previewing the package outside an LMS.
  function previewApi() {
    var key = "steun-preview:" + cfg.courseId + ":" + cfg.standard;
    var data = {};
    try { data = JSON.parse(window.localStorage.getItem(key) || "{}"); } catch (e) { data = {}; }
    var count = 0;
    function save() {
      try { window.localStorage.setItem(key, JSON.stringify(data)); } catch (e) { /* private mode */ }
    }
    function get(el) {
      if (/interactions\._count$/.test(el)) return String(count);
      if (el === "cmi.mode" || el === "cmi.core.lesson_mode") return "normal";
      if (el === "cmi.entry" || el === "cmi.core.entry") return data.suspend ? "resume" : "ab-initio";
      var k = is12 ? { "cmi.suspend_data": "suspend", "cmi.core.lesson_location": "location" }[el]
                   : { "cmi.suspend_data": "suspend", "cmi.location": "location" }[el];
      return k ? (data[k] || "") : "";
    }
    function set(el, v) {
      if (el === "cmi.suspend_data") data.suspend = v;
      else if (el === "cmi.core.lesson_location" || el === "cmi.location") data.location = v;
      else if (/^cmi\.interactions\.(\d+)\.id$/.test(el)) count = Math.max(count, +RegExp.$1 + 1);
      return "true";
    }
    var t = function () { return "true"; };
    var c = function () { save(); return "true"; };
    var z = function () { return "0"; };
    var e = function () { return ""; };
    return is12
      ? { LMSInitialize: t, LMSFinish: c, LMSGetValue: get, LMSSetValue: set, LMSCommit: c,
          LMSGetLastError: z, LMSGetErrorString: e, LMSGetDiagnostic: e, preview: true }
      : { Initialize: t, Terminate: c, GetValue: get, SetValue: set, Commit: c,
          GetLastError: z, GetErrorString: e, GetDiagnostic: e, preview: true };
  }

  // ------------------------------------------------------------------ the LMS connection
  var F = is12
    ? { init: "LMSInitialize", term: "LMSFinish", get: "LMSGetValue", set: "LMSSetValue",
        commit: "LMSCommit", err: "LMSGetLastError", errStr: "LMSGetErrorString" }
    : { init: "Initialize", term: "Terminate", get: "GetValue", set: "SetValue",
        commit: "Commit", err: "GetLastError", errStr: "GetErrorString" };
  var EL = is12
    ? { location: "cmi.core.lesson_location", suspend: "cmi.suspend_data", mode: "cmi.core.lesson_mode",
        entry: "cmi.core.entry", exit: "cmi.core.exit", time: "cmi.core.session_time",
        raw: "cmi.core.score.raw", min: "cmi.core.score.min", max: "cmi.core.score.max" }
    : { location: "cmi.location", suspend: "cmi.suspend_data", mode: "cmi.mode",
        entry: "cmi.entry", exit: "cmi.exit", time: "cmi.session_time",
        raw: "cmi.score.raw", min: "cmi.score.min", max: "cmi.score.max" };

  var lms = {
    api: null,
    phase: "new", // new -> open -> closed (or failed)
    preview: false,
    errors: [],
    calls: { init: 0, term: 0, commit: 0 },
    check: function (what, tolerated) {
      var code = "0";
      try { code = String(this.api[F.err]()); } catch (e) { code = "0"; }
      if (code !== "0" && code !== "" && code !== tolerated) {
        var text = "";
        try { text = String(this.api[F.errStr](code)); } catch (e2) { text = ""; }
        this.errors.push({ call: what, code: code, text: text });
        if (window.console) window.console.warn("SCORM " + what + ": error " + code + " " + text);
        return false;
      }
      return true;
    },
    open: function () {
      if (this.phase !== "new") return this.phase === "open";
      this.api = discoverApi();
      if (!this.api) {
        this.api = previewApi();
        this.preview = true;
      }
      var ok;
      try { ok = String(this.api[F.init]("")) === "true"; } catch (e) { ok = false; }
      this.calls.init++;
      this.phase = ok ? "open" : "failed";
      if (!ok) this.check(F.init);
      return ok;
    },
    get: function (el, mayBeUnset) {
      if (this.phase !== "open") return "";
      var v;
      try { v = this.api[F.get](el); } catch (e) { return ""; }
      this.check("GetValue(" + el + ")", mayBeUnset ? "403" : "");
      return v === null || v === undefined ? "" : String(v);
    },
    set: function (el, value) {
      if (this.phase !== "open") return false;
      var ok;
      try { ok = String(this.api[F.set](el, String(value))) === "true"; } catch (e) { ok = false; }
      if (!ok) this.check("SetValue(" + el + ")");
      return ok;
    },
    commit: function () {
      if (this.phase !== "open") return false;
      var ok;
      try { ok = String(this.api[F.commit]("")) === "true"; } catch (e) { ok = false; }
      this.calls.commit++;
      if (!ok) this.check(F.commit);
      return ok;
    },
    close: function () {
      if (this.phase !== "open") return;
      try { this.api[F.term](""); } catch (e) { /* nothing more we can do while the page goes */ }
      this.calls.term++;
      this.phase = "closed";
    }
  };

  // ------------------------------------------------------------------ state
  var pages = cfg.pages;
  var exercises = cfg.exercises;
  var state = {
    reg: "",
    visited: pages.map(function () { return false; }),
    answers: exercises.map(function () { return null; }), // {correct: bool, value: int | int[]}
    reflections: {}, // exercise index -> text, kept only in this browser (`notes`), never in the LMS
    final: { attempted: false, score: 0 }
  };
  var reportedStatus = ""; // set in this session; "" at the start of every session (SCORM 1.2 wants it each time)
  var lmsStatus = ""; // the status the LMS had at launch
  var doneInLms = false; // the LMS has completed/passed (at launch or since): never report less
  var mode = "normal";

  function bitsFor(n) { // bits to store a number 0..n-1
    var b = 1;
    while ((1 << b) < n) b++;
    return b;
  }
  var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  function packBits() {
    var bits = [];
    function put(v, n) { for (var i = n - 1; i >= 0; i--) bits.push((v >> i) & 1); }
    state.visited.forEach(function (v) { put(v ? 1 : 0, 1); });
    exercises.forEach(function (ex, i) {
      var a = state.answers[i];
      put(a ? 1 : 0, 1);
      if (!a) return;
      put(a.correct ? 1 : 0, 1);
      if (ex.type === "choice") put(a.value, bitsFor(ex.options.length));
      else if (ex.type === "multiple") ex.options.forEach(function (o, j) { put(a.value.indexOf(j) >= 0 ? 1 : 0, 1); });
      else if (ex.type === "sorting") ex.items.forEach(function (it, j) { put(a.value[j], bitsFor(ex.categories.length)); });
    });
    put(state.final.attempted ? 1 : 0, 1);
    put(state.final.score, 7);
    var out = "";
    for (var k = 0; k < bits.length; k += 6) {
      var v = 0;
      for (var j = 0; j < 6; j++) v = (v << 1) | (bits[k + j] || 0);
      out += B64.charAt(v);
    }
    return out;
  }

  function unpackBits(text) {
    var bits = [];
    for (var k = 0; k < text.length; k++) {
      var v = B64.indexOf(text.charAt(k));
      if (v < 0) throw new Error("bad state");
      for (var j = 5; j >= 0; j--) bits.push((v >> j) & 1);
    }
    var pos = 0;
    function take(n) {
      var v = 0;
      for (var i = 0; i < n; i++) {
        if (pos >= bits.length) throw new Error("short state");
        v = (v << 1) | bits[pos++];
      }
      return v;
    }
    var s = { visited: [], answers: [], final: {} };
    pages.forEach(function () { s.visited.push(take(1) === 1); });
    exercises.forEach(function (ex) {
      if (!take(1)) { s.answers.push(null); return; }
      var a = { correct: take(1) === 1, value: null };
      if (ex.type === "choice") a.value = take(bitsFor(ex.options.length));
      else if (ex.type === "multiple") {
        a.value = [];
        ex.options.forEach(function (o, j) { if (take(1)) a.value.push(j); });
      } else if (ex.type === "sorting") {
        a.value = ex.items.map(function () { return take(bitsFor(ex.categories.length)); });
      }
      s.answers.push(a);
    });
    s.final.attempted = take(1) === 1;
    s.final.score = take(7);
    return s;
  }

  // suspend_data = "1.<structure>.<registration>.<bits>." (the fifth part held reflection text before
  // course version 1.1.0; it is now always empty: reflections stay in this browser, see `notes`)
  function encodeState() {
    return ["1", cfg.structure, state.reg, packBits()].join(".") + ".";
  }

  function decodeState(text) {
    if (!text) return false;
    var parts = text.split(".");
    if (parts.length < 5 || parts[0] !== "1") return false;
    state.reg = parts[2] || state.reg;
    if (parts[1] !== cfg.structure) return false; // the course changed: start afresh
    var s;
    try { s = unpackBits(parts[3]); } catch (e) { return false; }
    state.visited = s.visited;
    state.answers = s.answers;
    state.final = s.final;
    var rest = parts.slice(4).join(".");
    if (rest) { // reflection text an older runtime put in the LMS: move it into this browser
      var old = {};
      try { old = JSON.parse(rest) || {}; } catch (e2) { old = {}; }
      for (var k in old) {
        if (Object.prototype.hasOwnProperty.call(old, k) && typeof old[k] === "string" && !state.reflections[k]) {
          state.reflections[k] = old[k];
        }
      }
      notes.write();
    }
    return true;
  }

  // Reflection text lives only in this browser's localStorage, under the course and a hash of the LMS's
  // learner id (so two teachers sharing a browser do not see each other's text). The LMS gets "answered"
  // and the length; the relay gets nothing. Decision 0009.
  var notes = {
    key: "",
    open: function (owner) {
      this.key = "steun-notes:" + cfg.courseId + ":" + hashText(owner || "preview");
      var stored = {};
      try { stored = JSON.parse(window.localStorage.getItem(this.key) || "{}") || {}; } catch (e) { stored = {}; }
      for (var k in stored) {
        if (Object.prototype.hasOwnProperty.call(stored, k) && typeof stored[k] === "string") state.reflections[k] = stored[k];
      }
    },
    write: function () {
      if (!this.key) return false;
      try {
        var keep = {};
        for (var k in state.reflections) if (state.reflections[k]) keep[k] = state.reflections[k];
        if (Object.keys(keep).length) window.localStorage.setItem(this.key, JSON.stringify(keep));
        else window.localStorage.removeItem(this.key);
        return true;
      } catch (e) { return false; } // private mode or storage switched off
    }
  };
  function hashText(text) { // FNV-1a, 32 bits: a storage key, not a secret
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(36);
  }

  function newRegistration() {
    var s = "";
    for (var i = 0; i < 10; i++) s += B64.charAt(Math.floor(Math.random() * 62));
    return s;
  }

  // ------------------------------------------------------------------ progress and status
  function pageDone(i) {
    var p = pages[i];
    if (p.kind === "final") return finalPassed();
    if (!state.visited[i]) return false;
    return p.exercise === null || p.exercise === undefined || state.answers[p.exercise] !== null;
  }
  function moduleDoneCount(mi) {
    return cfg.modules[mi].pages.filter(pageDone).length;
  }
  function moduleDone(mi) { return moduleDoneCount(mi) === cfg.modules[mi].pages.length; }
  function allModulesDone() {
    for (var mi = 0; mi < cfg.modules.length; mi++) if (!moduleDone(mi)) return false;
    return true;
  }
  function finalPassed() {
    return !cfg.finalCheck || (state.final.attempted && state.final.score >= cfg.finalCheck.passMark);
  }
  function courseComplete() { return allModulesDone() && finalPassed(); }
  function progressFraction() {
    var total = 0, done = 0;
    pages.forEach(function (p, i) {
      if (p.kind === "welcome") return;
      total++;
      if (pageDone(i)) done++;
    });
    return total ? done / total : 1;
  }

  function reportStatus() {
    if (lms.phase !== "open" || mode !== "normal") return false;
    var complete = courseComplete();
    var attempted = !!(cfg.finalCheck && state.final.attempted);
    var passed = finalPassed();
    var status;
    if (is12) {
      status = complete ? (cfg.finalCheck ? "passed" : "completed") : (attempted && !passed ? "failed" : "incomplete");
    } else {
      status = (complete ? "completed" : "incomplete") + "/" + (attempted ? (passed ? "passed" : "failed") : "unknown");
    }
    var progress = Math.round(progressFraction() * 100) / 100;
    if (!is12) lms.set("cmi.progress_measure", progress.toFixed(2));
    if (doneInLms && !complete) {
      // The LMS has more than this state shows (a course update dropped the state): keep what it has.
      // SCORM 1.2 still gets its status once per session, the LMS's own value again.
      if (!is12 || reportedStatus) return false;
      lms.set("cmi.core.lesson_status", lmsStatus);
      reportedStatus = lmsStatus;
      return true;
    }
    if (status === reportedStatus) return false;
    if (attempted) { // the score goes before the status
      lms.set(EL.min, "0");
      lms.set(EL.max, "100");
      lms.set(EL.raw, String(state.final.score));
      if (!is12) lms.set("cmi.score.scaled", (state.final.score / 100).toFixed(2));
    }
    if (is12) {
      lms.set("cmi.core.lesson_status", status);
    } else {
      lms.set("cmi.completion_status", complete ? "completed" : "incomplete");
      lms.set("cmi.success_status", attempted ? (passed ? "passed" : "failed") : "unknown");
    }
    reportedStatus = status;
    if (complete) doneInLms = true;
    return true;
  }

  // Relay events fire once per change of a module's or the course's state, in any session.
  var seen = { started: [], done: [], course: false };
  function noteProgress(initial) {
    cfg.modules.forEach(function (m, mi) {
      var started = m.pages.some(function (p) { return state.visited[p]; });
      var done = moduleDone(mi);
      if (started && !seen.started[mi] && !initial) relay("module_started", { module: m.id });
      if (done && !seen.done[mi] && !initial) relay("module_completed", { module: m.id });
      seen.started[mi] = started;
      seen.done[mi] = done;
    });
    var complete = courseComplete();
    if (complete && !seen.course && !initial) {
      relay("course_completed", {});
    }
    seen.course = complete;
  }

  function save(reason) {
    noteProgress(false);
    if (lms.phase !== "open") return;
    if (mode === "normal") lms.set(EL.suspend, encodeState());
    reportStatus();
    lms.commit();
    flushRelay();
    SteunRuntime.lastSave = reason;
  }

  // ------------------------------------------------------------------ relay (learning records)
  // Contract: xapi/course_relay.py and steun_lti/web/relay.py (POST /relay/course), decision 0012.
  // steun-relay.js (loaded before this file) sets window.STEUN_RELAY: null, or {url, kid, key} in the
  // copy of the package the tool handed one LMS's admin. Each post carries kid, learner_id and
  // token = HMAC-SHA256(key, learner_id), computed once per session with WebCrypto (secure contexts
  // only: https, or localhost). Events are queued and sent in one request at each save point. The body
  // is JSON sent as text/plain, so no CORS preflight is needed. Nothing is sent in preview (no LMS) or
  // review mode. Free text (reflections) never leaves through the relay.
  var relayCfg = window.STEUN_RELAY && window.STEUN_RELAY.url ? window.STEUN_RELAY : null;
  var relayQueue = [];
  var learnerId = "";
  var relayToken = "";
  function relay(event, data) {
    if (!relayCfg || lms.preview || mode !== "normal") return;
    var ev = { event: event, timestamp: new Date().toISOString() };
    for (var k in data) if (Object.prototype.hasOwnProperty.call(data, k) && data[k] !== null) ev[k] = data[k];
    relayQueue.push(ev);
  }
  function stopRelay(why) {
    relayCfg = null;
    relayQueue = [];
    if (window.console) window.console.warn("Steun: no learning records are sent (" + why + ")");
  }
  function startRelay(id) {
    var subtle = window.crypto && window.crypto.subtle;
    if (!id) return stopRelay("the LMS gave no learner id");
    if (!subtle || typeof window.TextEncoder !== "function") return stopRelay("no WebCrypto: not https");
    learnerId = id;
    var raw = new Uint8Array(relayCfg.key.length / 2);
    for (var i = 0; i < raw.length; i++) raw[i] = parseInt(relayCfg.key.substr(i * 2, 2), 16);
    subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then(function (key) { return subtle.sign("HMAC", key, new window.TextEncoder().encode(id)); })
      .then(function (sig) {
        var bytes = new Uint8Array(sig), hex = "";
        for (var j = 0; j < bytes.length; j++) hex += (bytes[j] < 16 ? "0" : "") + bytes[j].toString(16);
        relayToken = hex;
        flushRelay();
      })
      .catch(function () { stopRelay("the package key could not be used"); });
  }
  function flushRelay() {
    if (!relayCfg || !relayQueue.length || !relayToken || typeof window.fetch !== "function") return;
    var events = relayQueue.splice(0, 50);
    var body = {
      kid: relayCfg.kid, token: relayToken, learner_id: learnerId,
      course: cfg.courseId, session: state.reg, events: events
    };
    try {
      window.fetch(relayCfg.url, {
        method: "POST",
        keepalive: true,
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        body: JSON.stringify(body)
      }).catch(function () { /* learning records are best effort; the LMS has the data */ });
    } catch (e) { /* ditto */ }
    if (relayQueue.length) flushRelay();
  }

  // ------------------------------------------------------------------ interactions
  var ITEM_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz";
  var OPTION_CHARS = "abcdefghijklmnopqrstuvwxyz";
  function responses(ex, value) {
    // learner response and correct pattern in the exact syntax of each standard
    if (ex.type === "choice" || ex.type === "multiple") {
      var chosen = ex.type === "choice" ? [value] : value;
      var right = [];
      ex.options.forEach(function (o, j) { if (o.correct) right.push(j); });
      var name = function (j) { return is12 ? OPTION_CHARS.charAt(j) : ex.options[j].id; };
      var sep = is12 ? "," : "[,]";
      return { type: "choice", response: chosen.map(name).join(sep), pattern: right.map(name).join(sep) };
    }
    if (ex.type === "sorting") {
      var pair = function (j, c) {
        return is12 ? ITEM_CHARS.charAt(j) + "." + OPTION_CHARS.charAt(c) : ex.items[j].id + "[.]" + ex.categories[c];
      };
      var s = is12 ? "," : "[,]";
      return {
        type: "matching",
        response: value.map(function (c, j) { return pair(j, c); }).join(s),
        pattern: ex.items.map(function (it, j) { return pair(j, it.category); }).join(s)
      };
    }
    // A reflection: only that it was answered and how long it is; the text stays in this browser.
    return { type: "fill-in", response: "beantwoord (" + String(value).length + " tekens)", pattern: null };
  }

  function relayResponse(ex, value) { // option/item ids, as in SCORM 2004, whatever the standard
    if (ex.type === "choice") return ex.options[value].id;
    if (ex.type === "multiple") return value.map(function (j) { return ex.options[j].id; }).join("[,]");
    return value.map(function (c, j) { return ex.items[j].id + "[.]" + ex.categories[c]; }).join("[,]");
  }

  // The interaction budget (decision 0009): at most one interaction per exercise per session (a new answer
  // in the same session overwrites it by index, which both standards allow), and none appended once the LMS
  // holds INTERACTION_LIMIT (SCORM 2004 requires LMSs to keep at least 250).
  var INTERACTION_LIMIT = 250;
  var interactionAt = {}; // exercise index -> interaction index written in this session

  function recordInteraction(i, value, correct) {
    if (lms.phase !== "open" || mode !== "normal") return;
    var ex = exercises[i];
    var r = responses(ex, value);
    var n = interactionAt[i];
    if (n === undefined) {
      n = parseInt(lms.get("cmi.interactions._count"), 10) || 0;
      if (n < INTERACTION_LIMIT) interactionAt[i] = n;
    }
    if (n < INTERACTION_LIMIT) writeInteraction(n, ex, r, correct);
    var dot = ex.key.indexOf(".");
    var relayed = ex.type === "reflection" ? null : relayResponse(ex, value);
    relay("exercise_answered", {
      module: ex.final ? "final-check" : ex.key.slice(0, dot),
      exercise: ex.key.slice(dot + 1),
      response: relayed && relayed.length <= 200 ? relayed : null
    });
  }

  function writeInteraction(n, ex, r, correct) {
    var base = "cmi.interactions." + n + ".";
    var result = ex.type === "reflection" ? "neutral" : (correct ? "correct" : (is12 ? "wrong" : "incorrect"));
    lms.set(base + "id", ex.key);
    lms.set(base + "type", r.type);
    if (is12) {
      lms.set(base + "time", clockTime(new Date()));
      if (r.pattern !== null) lms.set(base + "correct_responses.0.pattern", r.pattern);
      lms.set(base + "student_response", r.response);
    } else {
      lms.set(base + "timestamp", timestamp(new Date()));
      lms.set(base + "description", ex.prompt);
      if (r.pattern !== null) lms.set(base + "correct_responses.0.pattern", r.pattern);
      lms.set(base + "learner_response", r.response);
    }
    lms.set(base + "result", result);
  }

  // ------------------------------------------------------------------ page display
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.page"));
  var current = 0;
  var tocLinks = Array.prototype.slice.call(document.querySelectorAll(".toc-link"));
  var prevButton = document.querySelector('[data-action="prev"]');
  var nextButton = document.querySelector('[data-action="next"]');

  function show(i, focus) {
    if (i < 0 || i >= pages.length) return;
    sections.forEach(function (s, j) { s.hidden = j !== i; });
    current = i;
    state.visited[i] = true;
    var key = pages[i].key.slice(0, LOCATION_LIMIT);
    if (lms.phase === "open") lms.set(EL.location, key);
    if (window.history && window.history.replaceState) {
      try { window.history.replaceState(null, "", "#" + pages[i].key); } catch (e) { /* sandboxed */ }
    }
    refresh();
    closeMenu();
    if (focus !== false) {
      var h = sections[i].querySelector("h1");
      if (h) h.focus();
      window.scrollTo(0, 0);
    }
    save("page");
  }

  function refresh() {
    tocLinks.forEach(function (a) {
      var i = +a.getAttribute("data-page");
      if (i === current) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
      var done = pageDone(i) && pages[i].kind !== "welcome";
      a.classList.toggle("done", done);
      var t = a.querySelector(".toc-done-text");
      if (t) t.textContent = done ? " (klaar)" : "";
    });
    cfg.modules.forEach(function (m, mi) {
      var n = moduleDoneCount(mi);
      var label = n + " van " + m.pages.length;
      var el = document.querySelector('[data-module-progress="' + mi + '"]');
      if (el) {
        el.textContent = label;
        el.classList.toggle("complete", n === m.pages.length);
      }
      var st = document.querySelector('[data-module-state="' + mi + '"]');
      if (st) st.textContent = n === m.pages.length ? "· klaar" : (n ? "· " + label + " pagina's klaar" : "");
    });
    var pct = Math.round(progressFraction() * 100);
    document.getElementById("course-progress").value = pct;
    document.getElementById("course-progress-text").textContent = pct + "%";
    document.getElementById("done-banner").hidden = !courseComplete();
    prevButton.disabled = current === 0;
    nextButton.disabled = current === pages.length - 1;
    var pos = document.querySelector(".pager-position");
    pos.textContent = current === 0 ? "" : "Pagina " + current + " van " + (pages.length - 1);
    var startButton = document.querySelector('[data-action="start"]');
    var anyVisited = state.visited.some(function (v, j) { return v && j > 0; });
    if (startButton) startButton.textContent = anyVisited ? "Ga verder waar je was" : "Begin met de cursus";
  }

  // ------------------------------------------------------------------ exercises in the page
  function setFeedback(area, good, texts) {
    area.innerHTML = "";
    if (good !== null) {
      var p = document.createElement("p");
      p.className = good ? "verdict good" : "verdict bad";
      p.textContent = good ? "Goed!" : "Niet helemaal.";
      area.appendChild(p);
    }
    texts.forEach(function (t) {
      if (!t) return;
      var q = document.createElement("p");
      q.textContent = t;
      area.appendChild(q);
    });
  }
  function fbText(scope, selector) {
    var el = scope.querySelector(selector);
    return el ? el.textContent : "";
  }

  function readAnswer(scope, ex) {
    if (ex.type === "choice") {
      var r = scope.querySelector("input:checked");
      return r ? +r.value : null;
    }
    if (ex.type === "multiple") {
      var vals = Array.prototype.map.call(scope.querySelectorAll("input:checked"), function (c) { return +c.value; });
      return vals.length ? vals : null;
    }
    if (ex.type === "sorting") { // items are shown shuffled; data-item is the index in the source
      var chosen = ex.items.map(function (it, j) { return scope.querySelector('select[data-item="' + j + '"]').value; });
      if (chosen.some(function (v) { return v === ""; })) return null;
      return chosen.map(Number);
    }
    var text = scope.querySelector("textarea").value.trim();
    return text ? text : null;
  }

  function isCorrect(ex, value) {
    if (ex.type === "choice") return !!ex.options[value].correct;
    if (ex.type === "multiple") {
      return ex.options.every(function (o, j) { return !!o.correct === (value.indexOf(j) >= 0); });
    }
    if (ex.type === "sorting") return ex.items.every(function (it, j) { return it.category === value[j]; });
    return true;
  }

  function showExerciseFeedback(scope, ex, a, text) {
    var area = scope.querySelector("[data-feedback-area]");
    if (ex.type === "reflection") {
      setFeedback(area, null, [text === null
        ? "Je hebt deze vraag eerder beantwoord. De tekst zelf staat niet (meer) in deze browser."
        : (notes.write() ? "Je antwoord is bewaard in deze browser." : "Je antwoord kon niet in deze browser worden bewaard. Kopieer het als je het wilt houden.")]);
      var model = scope.querySelector("[data-model-answer]");
      if (model) model.hidden = false;
      return;
    }
    var texts = [];
    if (ex.type === "choice") texts.push(fbText(scope, '[data-option-feedback="' + a.value + '"]'));
    if (ex.type === "multiple") a.value.forEach(function (j) { texts.push(fbText(scope, '[data-option-feedback="' + j + '"]')); });
    if (ex.type === "sorting") {
      ex.items.forEach(function (it, j) {
        var mark = scope.querySelector('[data-item-result="' + j + '"]');
        if (mark) {
          var ok = it.category === a.value[j];
          mark.textContent = ok ? "✓ goed" : "✗ kijk nog eens";
          mark.className = "item-result " + (ok ? "good" : "bad");
        }
      });
    }
    texts.push(fbText(scope, '[data-feedback="' + (a.correct ? "correct" : "incorrect") + '"]'));
    setFeedback(area, a.correct, texts);
  }

  function fillInputs(scope, ex, a, text) {
    if (ex.type === "choice" || ex.type === "multiple") {
      var vals = ex.type === "choice" ? [a.value] : a.value;
      Array.prototype.forEach.call(scope.querySelectorAll("input"), function (inp) {
        inp.checked = vals.indexOf(+inp.value) >= 0;
      });
    } else if (ex.type === "sorting") {
      Array.prototype.forEach.call(scope.querySelectorAll("select[data-item]"), function (s) {
        s.value = String(a.value[+s.getAttribute("data-item")]);
      });
    } else if (text) {
      scope.querySelector("textarea").value = text;
    }
  }

  function onExerciseSubmit(form, event) {
    event.preventDefault();
    var i = +form.getAttribute("data-exercise");
    var ex = exercises[i];
    var value = readAnswer(form, ex);
    var area = form.querySelector("[data-feedback-area]");
    if (value === null) {
      setFeedback(area, null, [ex.type === "reflection" ? "Schrijf eerst je antwoord." : "Kies eerst een antwoord."]);
      return;
    }
    var correct = isCorrect(ex, value);
    var before = state.answers[i];
    var unchanged = before !== null && (ex.type === "reflection"
      ? state.reflections[i] === value.slice(0, ex.maxLength)
      : JSON.stringify(before.value) === JSON.stringify(value));
    state.answers[i] = { correct: correct, value: ex.type === "reflection" ? null : value };
    if (ex.type === "reflection") state.reflections[i] = value.slice(0, ex.maxLength);
    showExerciseFeedback(form, ex, state.answers[i], value);
    if (unchanged) return; // pressed again without a change: nothing new to record
    recordInteraction(i, value, correct);
    refresh();
    save("exercise");
  }

  function forgetReflection(form) {
    var i = +form.getAttribute("data-exercise");
    delete state.reflections[i];
    notes.write();
    form.querySelector("textarea").value = "";
    setFeedback(form.querySelector("[data-feedback-area]"), null,
      ["Je antwoord is uit deze browser gewist. De leeromgeving weet alleen dat je de vraag hebt beantwoord."]);
  }

  function onFinalSubmit(form, event) {
    event.preventDefault();
    // A pass is final: the passed test is shown read-only, and a submission after it changes nothing,
    // so the LMS's passed/completed can never slide back to failed/incomplete.
    if (state.final.attempted && finalPassed()) return;
    var fc = cfg.finalCheck;
    var values = [];
    var missing = false;
    fc.questions.forEach(function (qi) {
      var fs = form.querySelector('[data-question="' + qi + '"]');
      var v = readAnswer(fs, exercises[qi]);
      if (v === null) missing = true;
      values.push(v);
    });
    var result = form.querySelector("[data-final-result]");
    if (missing) {
      result.textContent = "Beantwoord eerst alle vragen.";
      return;
    }
    var right = 0;
    fc.questions.forEach(function (qi, k) {
      var ok = isCorrect(exercises[qi], values[k]);
      if (ok) right++;
      state.answers[qi] = { correct: ok, value: values[k] };
      recordInteraction(qi, values[k], ok);
    });
    state.final.attempted = true;
    state.final.score = Math.round((100 * right) / fc.questions.length);
    showFinal(form);
    refresh();
    save("final");
  }

  function showFinal(form) {
    var fc = cfg.finalCheck;
    fc.questions.forEach(function (qi) {
      var fs = form.querySelector('[data-question="' + qi + '"]');
      var a = state.answers[qi];
      if (!a) return;
      fillInputs(fs, exercises[qi], a, null);
      var texts = [];
      var vals = exercises[qi].type === "choice" ? [a.value] : a.value;
      vals.forEach(function (j) { texts.push(fbText(fs, '[data-option-feedback="' + j + '"]')); });
      setFeedback(fs.querySelector("[data-feedback-area]"), a.correct, texts);
    });
    var passed = finalPassed();
    var result = form.querySelector("[data-final-result]");
    result.textContent = "Je score: " + state.final.score + "%. " + (passed
      ? "Gefeliciteerd, je hebt de toets gehaald."
      : "Je hebt minstens " + fc.passMark + "% nodig. Lees de uitleg bij de vragen en probeer het nog eens.");
    if (passed) result.textContent += " Je antwoorden blijven hier staan om terug te lezen.";
    if (passed && !allModulesDone()) result.textContent += " Rond ook de modules af die nog niet klaar zijn; dan is de cursus afgerond.";
    form.querySelector('[data-action="retry-final"]').hidden = passed;
    // read-only after a pass
    Array.prototype.forEach.call(form.querySelectorAll("input"), function (inp) { inp.disabled = passed; });
    form.querySelector('[data-action="submit-final"]').hidden = passed;
  }

  function retryFinal(form) {
    form.reset();
    Array.prototype.forEach.call(form.querySelectorAll("[data-feedback-area]"), function (a) { a.innerHTML = ""; });
    form.querySelector("[data-final-result]").textContent = "";
    form.querySelector('[data-action="retry-final"]').hidden = true;
    var first = form.querySelector("input");
    if (first) first.focus();
  }

  function restoreExercises() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-exercise]"), function (form) {
      var i = +form.getAttribute("data-exercise");
      var a = state.answers[i];
      if (!a) return;
      var text = state.reflections[i] || null;
      fillInputs(form, exercises[i], a, text);
      showExerciseFeedback(form, exercises[i], a, text);
    });
    var finalForm = document.querySelector("form[data-final]");
    if (finalForm && state.final.attempted) showFinal(finalForm);
  }

  // ------------------------------------------------------------------ menu (narrow screens)
  var menuButton = document.querySelector(".menu-toggle");
  function closeMenu() {
    document.body.classList.remove("menu-open");
    menuButton.setAttribute("aria-expanded", "false");
  }

  // ------------------------------------------------------------------ wiring
  function bind() {
    prevButton.addEventListener("click", function () { show(current - 1); });
    nextButton.addEventListener("click", function () { show(current + 1); });
    tocLinks.forEach(function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        show(+a.getAttribute("data-page"));
      });
    });
    var start = document.querySelector('[data-action="start"]');
    if (start) start.addEventListener("click", function () {
      var next = 1;
      for (var i = 1; i < pages.length; i++) { if (!pageDone(i)) { next = i; break; } }
      show(next);
    });
    Array.prototype.forEach.call(document.querySelectorAll("form[data-exercise]"), function (form) {
      form.addEventListener("submit", function (e) { onExerciseSubmit(form, e); });
      var forget = form.querySelector('[data-action="forget"]');
      if (forget) forget.addEventListener("click", function () { forgetReflection(form); });
    });
    var finalForm = document.querySelector("form[data-final]");
    if (finalForm) {
      finalForm.addEventListener("submit", function (e) { onFinalSubmit(finalForm, e); });
      finalForm.querySelector('[data-action="retry-final"]').addEventListener("click", function () { retryFinal(finalForm); });
    }
    menuButton.addEventListener("click", function () {
      var open = !document.body.classList.contains("menu-open");
      document.body.classList.toggle("menu-open", open);
      menuButton.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && document.body.classList.contains("menu-open")) { closeMenu(); menuButton.focus(); }
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && lms.phase === "open") {
        lms.set(EL.time, sessionTime(Date.now() - startedAt));
        save("hidden");
      }
    });
    // No Commit here: Chromium refuses synchronous requests during page dismissal. Terminate directly.
    window.addEventListener("pagehide", finish);
  }

  function finish() {
    if (lms.phase !== "open") return;
    if (mode === "normal") {
      lms.set(EL.suspend, encodeState());
      reportStatus();
    }
    var elapsed = Date.now() - startedAt;
    lms.set(EL.time, sessionTime(elapsed));
    relay(courseComplete() ? "course_terminated" : "course_suspended", { duration: isoDuration(elapsed) });
    flushRelay();
    // Always suspend: the teacher can come back to reread, and the LMS keeps the bookmark and state.
    lms.set(EL.exit, "suspend");
    lms.close();
  }

  function boot() {
    lms.open();
    document.getElementById("preview-notice").hidden = !lms.preview;
    document.getElementById("lms-error-notice").hidden = lms.phase !== "failed";
    var resumeAt = 0;
    if (lms.phase === "open") {
      var m = lms.get(EL.mode);
      mode = m === "browse" || m === "review" ? m : "normal"; // empty (Open edX) counts as normal
      // A first launch (entry ab-initio) has no state; SCORM 2004 answers 403 for unset elements.
      var fresh = lms.get(EL.entry) === "ab-initio";
      notes.open(lms.preview ? "" : lms.get(is12 ? "cmi.core.student_id" : "cmi.learner_id", true));
      if (!fresh) decodeState(lms.get(EL.suspend, true));
      var loc = fresh ? "" : lms.get(EL.location, true);
      for (var i = 0; i < pages.length; i++) if (pages[i].key === loc) resumeAt = i;
      if (mode === "normal") {
        lmsStatus = lms.get(is12 ? "cmi.core.lesson_status" : "cmi.completion_status", true);
        doneInLms = lmsStatus === "passed" || lmsStatus === "completed";
      }
      // Suspend from the start: a tab closed without pagehide still leaves a resumable attempt
      // (the first Commit carries it). Decision 0009.
      lms.set(EL.exit, "suspend");
    }
    if (!state.reg) state.reg = newRegistration();
    noteProgress(true);
    if (relayCfg && lms.phase === "open" && !lms.preview && mode === "normal") {
      startRelay(lms.get(is12 ? "cmi.core.student_id" : "cmi.learner_id"));
      var resumed = state.visited.some(function (v, j) { return v && j > 0; });
      relay(resumed ? "course_resumed" : "course_started", {});
    }
    bind();
    restoreExercises();
    show(resumeAt, resumeAt !== 0);
  }

  var SteunRuntime = {
    config: cfg,
    lms: lms,
    state: state,
    encodeState: encodeState,
    sessionTime: sessionTime,
    isoDuration: isoDuration,
    show: function (i) { show(i); },
    current: function () { return current; },
    complete: courseComplete,
    finish: finish,
    lastSave: ""
  };
  window.SteunRuntime = SteunRuntime;
  boot();
})();
