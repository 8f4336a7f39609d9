// selfiam's only script: the browser's part of passkeys (WebAuthn).
// A form with data-webauthn="create" or "get" carries the server's options as JSON in
// data-webauthn-options; its button asks the browser for a credential, puts the answer
// (JSON, binary fields in base64url) in the form's "credential" field and submits the
// form, which carries its CSRF token like every other form of the portal.
"use strict";

(function () {
  function toBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: toBytes(d.id) }));
  }

  function creationOptions(o) {
    return Object.assign({}, o, {
      challenge: toBytes(o.challenge),
      user: Object.assign({}, o.user, { id: toBytes(o.user.id) }),
      excludeCredentials: descriptors(o.excludeCredentials),
      extensions: { credProps: true },
    });
  }

  function requestOptions(o) {
    return Object.assign({}, o, {
      challenge: toBytes(o.challenge),
      allowCredentials: descriptors(o.allowCredentials),
    });
  }

  function answer(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
    };
  }

  function show(form, message) {
    const out = form.querySelector("[data-webauthn-status]");
    if (out) out.textContent = message;
  }

  async function run(form) {
    const options = JSON.parse(form.dataset.webauthnOptions);
    let credential;
    try {
      credential =
        form.dataset.webauthn === "create"
          ? await navigator.credentials.create({ publicKey: creationOptions(options) })
          : await navigator.credentials.get({ publicKey: requestOptions(options) });
    } catch (error) {
      show(form, "The browser did not give a passkey (" + error.name + "). Try again.");
      return;
    }
    form.elements.credential.value = JSON.stringify(answer(credential));
    form.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential) return;
    for (const note of document.querySelectorAll("[data-webauthn-missing]")) note.hidden = true;
    for (const form of document.querySelectorAll("form[data-webauthn]")) {
      const button = form.querySelector("button");
      button.hidden = false;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        run(form);
      });
    }
  });
})();
