/* A launch carried in the URL (the browser keeps no cookie in the LMS's iframe): this frame
   keeps the launch's key in sessionStorage, never in a URL, and shows it with every form and
   fetch; a page load gets a one-time ticket for it (steun_lti/web/sessions.py). */
(function () {
  "use strict";
  var PREFIX = "steun.launch.";
  var FIELD = "lti_launch_key";

  function load(id) {
    try { return window.sessionStorage.getItem(PREFIX + id); } catch (e) { return null; }
  }
  function keep(id, key) {
    try { window.sessionStorage.setItem(PREFIX + id, key); } catch (e) { /* this page only */ }
  }

  /* The resume page: find this frame's key and post it for a ticket, or say it is not here. */
  function resume(cfg) {
    if (cfg.key) { keep(cfg.launch_id, cfg.key); }
    var key = cfg.key || load(cfg.launch_id);
    if (!key) {
      document.getElementById("steun-wait").hidden = true;
      document.getElementById("steun-elsewhere").hidden = false;
      return;
    }
    var form = document.getElementById("steun-resume");
    form.elements.namedItem(FIELD).value = key;
    form.submit();
  }

  /* Every page of such a launch: forms and fetch carry the key. */
  function carry(id) {
    var key = load(id);
    if (!key) { return; }
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
  var launch = script && script.getAttribute("data-launch");
  if (launch) { carry(launch); }
  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("steun-resume-data");
    if (data) { resume(JSON.parse(data.textContent)); }
  });
})();
