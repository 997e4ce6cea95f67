// Focus the form's error summary, when the page has one, so a screen reader reads it first.
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
