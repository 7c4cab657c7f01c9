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
    if (data.autopay) {
      showAutopay(data.autopay);
    }
    var refusal = document.getElementById("refusal");
    if (refusal) {
      refusal.textContent = data.refusal;
      refusal.hidden = !data.refusal;
    }
    form.setAttribute("data-quoted", String(asked));
  }

  // Автоплатёж: the consent text the terms make (the form carries its digest: the client
  // pays agreeing to the text shown), and the terms' faults beside their fields.
  function fault(name, field, message) {
    var error = document.getElementById("error-" + name);
    var input = document.getElementById(field);
    if (error) {
      error.textContent = message;
      error.hidden = !message;
    }
    if (input) {
      if (message) {
        input.setAttribute("aria-invalid", "true");
      } else {
        input.removeAttribute("aria-invalid");
      }
    }
  }

  function showAutopay(a) {
    var shown = document.getElementById("consent-text");
    var missing = document.getElementById("consent-missing");
    var digest = document.getElementById("consent-digest");
    if (shown) {
      shown.textContent = a.text;
      shown.hidden = !a.text;
    }
    if (missing) {
      missing.hidden = !!a.text;
    }
    if (digest) {
      digest.value = a.digest;
    }
    fault("autopay_limit", "autopay-limit", a.limit_error);
    fault("autopay_day", "autopay-day", a.day_error);
  }

  var tick = document.getElementById("autopay");
  var terms = document.getElementById("autopay-terms");
  if (tick && terms) {
    var fold = function () {
      terms.hidden = !tick.checked;
    };
    tick.addEventListener("change", fold);
    fold();
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

  function asks(name) {
    return !!name && (name === "tick" || name.indexOf("amount-") === 0 || name.indexOf("autopay") === 0);
  }

  form.addEventListener("change", function (e) {
    if (asks(e.target.name)) {
      soon();
    }
  });
  form.addEventListener("input", function (e) {
    if (asks(e.target.name) && e.target.type !== "checkbox") {
      soon();
    }
  });
})();
