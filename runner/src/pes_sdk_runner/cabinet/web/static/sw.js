// The cabinet's service worker (served at /cabinet/sw.js, scope /cabinet/): shows a Web Push
// message of the service (its payload: plugins/webpush/README.md) and reports to the cabinet
// that it was shown, opened or clicked, when the message names its row (data.pes_message).
// A report proves itself with this browser's subscription (its endpoint and auth secret,
// which the push service never sees), not with a session: a notification is mostly opened
// long after the cabinet's session has ended. See docs/cabinet.md.
"use strict";

var BRAND = "__BRAND__";

function report(payload, name, button) {
  var data = (payload && payload.data) || {};
  var id = data.pes_message;
  if (typeof id !== "string" || !/^[0-9]{1,18}$/.test(id)) {
    return Promise.resolve();
  }
  return self.registration.pushManager
    .getSubscription()
    .then(function (subscription) {
      if (!subscription) {
        return null;
      }
      var json = subscription.toJSON();
      var body = { event: name, endpoint: json.endpoint, auth: (json.keys || {}).auth };
      if (typeof button === "number") {
        body.button = button;
      }
      return fetch(self.registration.scope + "messages/" + id + "/events", {
        method: "POST",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    })
    .catch(function () {
      return null; // the statistics may miss one; the notification itself is what matters
    });
}

self.addEventListener("push", function (event) {
  var p = {};
  try {
    p = event.data ? event.data.json() : {};
  } catch (e) {
    p = { body: event.data ? event.data.text() : "" };
  }
  var known = !p.v || p.v === 1; // a newer payload: its title and body only
  var actions = known && Array.isArray(p.actions) ? p.actions : [];
  var most = (self.Notification && self.Notification.maxActions) || 0;
  var options = {
    body: p.body || "",
    tag: p.tag || undefined,
    data: { actions: actions, data: (known && p.data) || {}, key: p.key || "" },
    actions: actions.slice(0, most).map(function (a) {
      return { action: a.action, title: a.title };
    }),
  };
  if (known && p.image) {
    options.image = p.image;
  }
  event.waitUntil(
    self.registration.showNotification(p.title || BRAND, options).then(function () {
      return report(options.data, "delivered");
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var data = event.notification.data || {};
  var actions = data.actions || [];
  var index = -1;
  for (var i = 0; i < actions.length; i += 1) {
    if (event.action && actions[i].action === event.action) {
      index = i;
    }
  }
  // A button's page; the notification itself opens its first button's page (browsers that
  // show no buttons), else the cabinet. Only https pages: the payload is the service's own,
  // yet a worker opens nothing else.
  var chosen = index >= 0 ? actions[index] : actions[0];
  var url = chosen && /^https:\/\//.test(chosen.url) ? chosen.url : self.registration.scope;
  var reported = report(data, "opened").then(function () {
    return index >= 0 ? report(data, "clicked", index) : null;
  });
  event.waitUntil(Promise.all([self.clients.openWindow(url), reported]));
});
