// Keeps the payment form's totals right while the client ticks services and types amounts:
// the server prices the form as it stands (the same pricing as sending it) and the page
// shows its answer. Without this script the "Пересчитать" button does the same.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // On a phone the menu is a row that scrolls sideways: bring the current page's item into
  // view (without the script the row starts at its first item).
  var current = document.querySelector(".menu [aria-current]");
  var menu = document.querySelector(".menu ul");
  var reveal = function () {
    if (current && menu && menu.scrollWidth > menu.clientWidth) {
      menu.scrollLeft = current.offsetLeft - (menu.clientWidth - current.offsetWidth) / 2;
    }
  };
  reveal();
  window.addEventListener("resize", reveal);
  // The readings form: the fields of another meter only when "Другой счётчик" is chosen.
  var meter = document.getElementById("meter");
  var other = document.querySelector(".new-meter");
  if (meter && other) {
    var toggle = function () {
      other.hidden = meter.value !== "new";
    };
    meter.addEventListener("change", toggle);
    toggle();
  }
})();

(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var url = form.getAttribute("data-quote");
  var timer = null;
  var asked = 0;

  function text(id, value) {
    var node = document.getElementById(id);
    if (node) {
      node.textContent = value;
    }
  }

  function show(data) {
    text("total-sum", data.total);
    text("total-fee", data.fee);
    Object.keys(data.lines).forEach(function (key) {
      var line = data.lines[key];
      text("fee-" + key, line.fee);
      var error = document.getElementById("error-" + key);
      var input = document.getElementById("amount-" + key);
      if (error) {
        error.textContent = line.error;
        error.hidden = !line.error;
      }
      if (input) {
        if (line.error) {
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
      }
    });
    var refusal = document.getElementById("refusal");
    if (refusal) {
      refusal.textContent = data.refusal;
      refusal.hidden = !data.refusal;
    }
    form.setAttribute("data-quoted", String(asked));
  }

  function quote() {
    var mine = ++asked;
    var body = new URLSearchParams(new FormData(form));
    body.delete("action");
    form.setAttribute("data-quoting", String(mine));
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (answer) {
        return answer.ok ? answer.json() : null;
      })
      .then(function (data) {
        if (data && mine === asked) {
          show(data);
        }
      })
      .catch(function () {
        // The server recomputes when the form is sent: nothing is lost.
      });
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(quote, 200);
  }

  form.addEventListener("change", function (e) {
    if (e.target.name === "tick" || e.target.name.indexOf("amount-") === 0) {
      soon();
    }
  });
  form.addEventListener("input", function (e) {
    if (e.target.name && e.target.name.indexOf("amount-") === 0) {
      soon();
    }
  });
})();
