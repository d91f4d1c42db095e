"use strict";
// The CommonJS entry: callable like socket.io's (`require("switchyard")(srv, opts)`), carrying every named export.
const api = require("../dist/index.js");

function switchyard(srv, opts) {
  return new api.Server(srv, opts);
}

for (const name of Object.keys(api)) {
  if (name !== "default") switchyard[name] = api[name];
}
switchyard.default = switchyard;

module.exports = switchyard;
