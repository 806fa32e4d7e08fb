/* LTI client-side platform storage (lti.put_data / lti.get_data over postMessage) and the
   new-window fallback, for browsers that block cookies inside the LMS iframe. */
var steunLti = (function () {
  'use strict';
  var TIMEOUT_MS = 4000;

  function show(id) {
    var wait = document.getElementById('steun-wait');
    if (wait) { wait.hidden = true; }
    var form = document.getElementById('steun-continue-form');
    if (form && id === 'steun-newwindow') { form.hidden = true; }
    document.getElementById(id).hidden = false;
  }

  function cookiesWork(secure) {
    try {
      var name = 'steun_ck_' + Math.random().toString(36).slice(2);
      var attrs = '; path=/' + (secure ? '; SameSite=None; Secure; Partitioned' : '');
      document.cookie = name + '=1' + attrs;
      var ok = document.cookie.indexOf(name + '=1') !== -1;
      document.cookie = name + '=; Max-Age=0' + attrs;
      return ok;
    } catch (e) {
      return false;
    }
  }

  function storageFrame(target) {
    if (!target) { return null; }
    try {
      if (target === '_parent') { return window.parent; }
      return window.parent.frames[target] || null;
    } catch (e) {
      return null;
    }
  }

  function ask(frame, origin, message, onAnswer, onFail) {
    var id = 'steun-' + Math.random().toString(36).slice(2);
    var settled = false;
    message.message_id = id;
    window.addEventListener('message', function (event) {
      if (settled || event.origin !== origin) { return; }
      var data = event.data || {};
      if (data.message_id !== id || data.subject !== message.subject + '.response') { return; }
      settled = true;
      if (data.error) { onFail(); } else { onAnswer(data); }
    });
    try {
      frame.postMessage(message, origin);
    } catch (e) {
      settled = true;
      onFail();
      return;
    }
    window.setTimeout(function () { if (!settled) { settled = true; onFail(); } }, TIMEOUT_MS);
  }

  function login(cfg) {
    function go() {
      var form = document.getElementById('steun-continue-form');
      if (form) { form.submit(); } else { window.location.replace(cfg.auth_url); }
    }
    if (window.top === window.self || cookiesWork(cfg.secure)) { go(); return; }
    var frame = storageFrame(cfg.storage_target);
    if (!frame) { show('steun-newwindow'); return; }
    ask(frame, cfg.platform_origin,
        {subject: 'lti.put_data', key: 'steun_state_' + cfg.state, value: cfg.secret},
        go, function () { show('steun-newwindow'); });
  }

  function completeLaunch(cfg) {
    var frame = storageFrame(cfg.storage_target);
    if (!frame) { show('steun-newwindow'); return; }
    ask(frame, cfg.platform_origin,
        {subject: 'lti.get_data', key: 'steun_state_' + cfg.state},
        function (data) {
          if (!data.value) { show('steun-newwindow'); return; }
          var form = document.getElementById('steun-launch');
          form.elements.lti_storage_binding.value = data.value;
          form.submit();
        },
        function () { show('steun-newwindow'); });
  }

  return {login: login, completeLaunch: completeLaunch, storageFrame: storageFrame, ask: ask};
})();
