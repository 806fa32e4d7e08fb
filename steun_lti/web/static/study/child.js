/* Child mode: read the question aloud (speechSynthesis, nl-NL) and save a tapped face at once. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var speak = document.getElementById("speak");
    if (speak && "speechSynthesis" in window && "SpeechSynthesisUtterance" in window) {
      speak.hidden = false;
      speak.addEventListener("click", function () {
        window.speechSynthesis.cancel();
        var utterance = new window.SpeechSynthesisUtterance(speak.getAttribute("data-text"));
        utterance.lang = speak.getAttribute("data-lang") || "nl-NL";
        utterance.rate = 0.9;
        var voice = window.speechSynthesis.getVoices().filter(function (v) { return v.lang === utterance.lang; })[0];
        if (voice) utterance.voice = voice;
        window.speechSynthesis.speak(utterance);
      });
    }
    var form = document.getElementById("child-form");
    if (!form) return;
    form.querySelectorAll("fieldset[data-item]").forEach(function (fs) {
      fs.addEventListener("change", function (event) {
        var item = fs.getAttribute("data-item");
        window.fetch(form.getAttribute("data-save-url"), {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json",
                     "X-CSRF-Token": form.getAttribute("data-csrf") },
          body: JSON.stringify({ item: item, value: event.target.value })
        }).then(function (r) {
          if (!r.ok) throw new Error("refused");
          form.dataset.saved = item;
        }).catch(function () {
          var live = document.getElementById("live");
          if (live) live.textContent = form.getAttribute("data-msg-error");
        });
      });
    });
  });
})();
