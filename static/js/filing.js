// The filing form's small enhancements; every page works without them. Show the amount only
// for services that pay out money (`#funding-codes`); one click, one request on the button
// marked `data-busy-label` (the server is idempotent on the submission token anyway).
(function () {
  "use strict";
  var codes = document.getElementById("funding-codes");
  var service = document.getElementById("id_service_type");
  var group = document.getElementById("amount-group");
  var amount = document.getElementById("id_amount");
  if (codes && service && group && amount) {
    var funding = JSON.parse(codes.textContent).map(String);
    var syncAmount = function () {
      var applies = funding.indexOf(service.value) !== -1;
      group.hidden = !applies;
      amount.disabled = !applies;
    };
    service.addEventListener("change", syncAmount);
    syncAmount();
  }

  var button = document.querySelector("[data-busy-label]");
  if (!button || !button.form) { return; }
  var label = button.textContent;
  button.form.addEventListener("submit", function () {
    button.disabled = true;
    button.setAttribute("aria-disabled", "true");
    button.textContent = button.getAttribute("data-busy-label");
  });
  window.addEventListener("pageshow", function () {
    button.disabled = false;
    button.removeAttribute("aria-disabled");
    button.textContent = label;
  });
})();
