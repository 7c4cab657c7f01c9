// «Уведомления в браузере» on the Уведомления page: registers the cabinet's service worker,
// subscribes this browser to Web Push with the service's VAPID public key and hands the
// subscription to the cabinet (which keeps it as the client's device); or the reverse.
// The page's switches and e-mail are a plain form and need no script.
(function () {
  "use strict";
  var card = document.getElementById("push");
  var on = document.getElementById("push-on");
  var off = document.getElementById("push-off");
  var state = document.getElementById("push-state");
  if (!card || !on || !off || !state || !card.getAttribute("data-key")) {
    return;
  }
  // Shown to a page without a script (a <noscript> is not shown where scripts are merely
  // blocked), hidden by the script.
  document.getElementById("push-no-script").hidden = true;
  var key = card.getAttribute("data-key");
  var csrf = card.getAttribute("data-csrf");

  function say(text) {
    state.textContent = text;
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.fetch) {
    say("Этот браузер не показывает уведомления сайтов.");
    return;
  }
  card.querySelector(".push-actions").hidden = false;

  function show(subscribed) {
    on.hidden = subscribed;
    off.hidden = !subscribed;
  }

  // applicationServerKey: current browsers take the base64url text, older ones bytes.
  function bytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      out[i] = raw.charCodeAt(i);
    }
    return out;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then(function (answer) {
      if (!answer.ok) {
        throw new Error("HTTP " + answer.status);
      }
      return answer;
    });
  }

  var registered = navigator.serviceWorker.register(card.getAttribute("data-worker"), {
    scope: card.getAttribute("data-scope"),
  });

  registered
    .then(function (registration) {
      return registration.pushManager.getSubscription();
    })
    .then(function (subscription) {
      show(Boolean(subscription));
      if (subscription) {
        say("Уведомления в этом браузере включены.");
      }
    })
    .catch(function () {
      show(false);
    });

  on.addEventListener("click", function () {
    on.disabled = true;
    Notification.requestPermission()
      .then(function (permission) {
        if (permission !== "granted") {
          say("Браузер запретил уведомления этого сайта: разрешите их в настройках браузера.");
          return null;
        }
        return registered
          .then(function (registration) {
            return registration.pushManager.subscribe({
              userVisibleOnly: true,
              applicationServerKey: bytes(key),
            });
          })
          .then(function (subscription) {
            var zone = "";
            try {
              zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
            } catch (e) {
              zone = "";
            }
            return post(card.getAttribute("data-subscribe"), {
              subscription: subscription.toJSON(),
              time_zone: zone,
            });
          })
          .then(function () {
            show(true);
            say("Уведомления в этом браузере включены.");
          });
      })
      .catch(function () {
        say("Не удалось включить уведомления. Попробуйте ещё раз позже.");
      })
      .then(function () {
        on.disabled = false;
      });
  });

  off.addEventListener("click", function () {
    off.disabled = true;
    registered
      .then(function (registration) {
        return registration.pushManager.getSubscription();
      })
      .then(function (subscription) {
        if (!subscription) {
          return null;
        }
        return post(card.getAttribute("data-unsubscribe"), {
          endpoint: subscription.endpoint,
        }).then(function () {
          return subscription.unsubscribe();
        });
      })
      .then(function () {
        show(false);
        say("Уведомления в этом браузере выключены.");
      })
      .catch(function () {
        say("Не удалось выключить уведомления. Попробуйте ещё раз позже.");
      })
      .then(function () {
        off.disabled = false;
      });
  });
})();
