/* A launch carried in the URL (the browser keeps no cookie in the LMS's iframe). The launching
   frame keeps the launch's key in the platform's storage (lti.put_data; and in sessionStorage
   where the browser allows it), never in a URL. A page loaded without a ticket fetches the key
   back and trades it for a one-time ticket; a page of the launch hands its key to every form
   and fetch. See steun_lti/web/sessions.py. */
(function () {
  "use strict";
  var PREFIX = "steun.launch.";
  var STORE = "steun_launch_";
  var FIELD = "lti_launch_key";

  function load(id) {
    try { return window.sessionStorage.getItem(PREFIX + id); } catch (e) { return null; }
  }
  function keep(id, key) {
    try { window.sessionStorage.setItem(PREFIX + id, key); } catch (e) { /* blocked here */ }
  }

  function elsewhere() {
    document.getElementById("steun-wait").hidden = true;
    document.getElementById("steun-elsewhere").hidden = false;
  }
  function submit(key) {
    var form = document.getElementById("steun-resume");
    form.elements.namedItem(FIELD).value = key;
    form.submit();
  }

  /* The landing and resume page. */
  function resume(cfg) {
    var lti = window.steunLti;
    var framed = window.top !== window.self;
    var frame = framed && lti && cfg.platform_origin ? lti.storageFrame(cfg.storage_target) : null;
    if (cfg.key) {  // the landing page: keep the key, then go on
      keep(cfg.launch_id, cfg.key);
      if (!frame) { submit(cfg.key); return; }
      lti.ask(frame, cfg.platform_origin,
              {subject: "lti.put_data", key: STORE + cfg.launch_id, value: cfg.key},
              function () { submit(cfg.key); }, function () { submit(cfg.key); });
      return;
    }
    var key = load(cfg.launch_id);
    if (key) { submit(key); return; }
    if (!frame) { elsewhere(); return; }
    lti.ask(frame, cfg.platform_origin, {subject: "lti.get_data", key: STORE + cfg.launch_id},
            function (data) { if (data.value) { submit(data.value); } else { elsewhere(); } },
            elsewhere);
  }

  /* Every page of such a launch: forms and fetch carry the key. */
  function carry(key) {
    function addField(form) {
      if (!form || (form.getAttribute("method") || "get").toLowerCase() !== "post") { return; }
      if (form.elements.namedItem(FIELD)) { return; }
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = FIELD;
      input.value = key;
      form.appendChild(input);
    }
    function addToAll() { Array.prototype.forEach.call(document.forms, addField); }
    document.addEventListener("submit", function (event) { addField(event.target); }, true);
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", addToAll);
    } else {
      addToAll();
    }
    var original = window.fetch;
    if (!original) { return; }
    window.fetch = function (input, init) {
      var url = typeof input === "string" ? input : input.url;
      if (new URL(url, window.location.href).origin === window.location.origin) {
        init = init || {};
        var headers = new Headers(init.headers || {});
        headers.set("X-Steun-Launch-Key", key);
        init.headers = headers;
      }
      return original.call(window, input, init);
    };
  }

  var script = document.currentScript;
  if (script && script.getAttribute("data-key")) {
    keep(script.getAttribute("data-launch"), script.getAttribute("data-key"));
    carry(script.getAttribute("data-key"));
  }
  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("steun-resume-data");
    if (data) { resume(JSON.parse(data.textContent)); }
  });
})();
