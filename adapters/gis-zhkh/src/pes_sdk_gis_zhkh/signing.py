"""Signing of ГИС ЖКХ requests: the pluggable :class:`Signer` and a test signer.

ГИС ЖКХ wants every request body signed with XAdES-BES (enveloped ``ds:Signature``, GOST R
34.10-2012 keys, GOST R 34.11-2012 digests) over the element that carries
``Id="signed-data-container"``: the body element of the request. GOST cryptography comes
from an external provider (CryptoPro CSP, a signing service, an HSM), so pes-sdk ships only
the interface and a stand-in:

* :class:`Signer`: anything with ``sign(element)``. The adapter gives it the body element
  with ``Id="signed-data-container"`` already set; the signer inserts ``ds:Signature`` as
  the element's **first child** (where ``base:BaseType`` allows it) and returns nothing.
* :class:`HmacTestSigner`: **NOT GOST and not accepted by ГИС ЖКХ**. It builds the same
  XAdES-BES shape (two references: the container and the signed properties, exclusive
  C14N, an enveloped-signature transform) with HMAC-SHA256, so the shape, the placement
  and the schema validity of signed messages are tested end to end, and the simulator
  can check that what it received is exactly what was signed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Protocol, runtime_checkable

from lxml import etree

__all__ = [
    "CONTAINER_ID",
    "GOST_DIGEST",
    "GOST_SIGNATURE",
    "HmacTestSigner",
    "Signer",
    "make_signer",
]

CONTAINER_ID = "signed-data-container"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
#: The algorithm URIs a real (external) GOST signer uses, for reference.
GOST_SIGNATURE = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256"
GOST_DIGEST = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-256"
_SIG_ID = "xmldsig-pes"
_PROPS_ID = "xmldsig-pes-signedprops"


@runtime_checkable
class Signer(Protocol):
    """Signs one request body element in place (XAdES-BES, enveloped)."""

    def sign(self, element: etree._Element) -> None:
        """Insert ``ds:Signature`` as the first child of ``element``.

        ``element`` already carries ``Id="signed-data-container"``; the signature's first
        reference points to ``#signed-data-container`` with the enveloped-signature
        transform. Raise an exception (not return) when signing is impossible.
        """


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _container_digest(element: etree._Element) -> str:
    # The enveloped-signature transform: digest the element as if the Signature were absent.
    clone = etree.fromstring(etree.tostring(element))
    for sig in clone.findall(f"{{{DS}}}Signature"):
        clone.remove(sig)
    return _digest(_c14n(clone))


def _ds(tag: str, parent: etree._Element | None = None, **attrib: str) -> etree._Element:
    q = f"{{{DS}}}{tag}"
    if parent is None:
        return etree.Element(q, attrib, nsmap={"ds": DS})
    return etree.SubElement(parent, q, attrib)


def _reference(
    parent: etree._Element, uri: str, digest: str, *, enveloped: bool, type_: str = ""
) -> None:
    attrib = {"URI": uri}
    if type_:
        attrib["Type"] = type_
    ref = _ds("Reference", parent, **attrib)
    transforms = _ds("Transforms", ref)
    if enveloped:
        _ds("Transform", transforms, Algorithm=ENVELOPED)
    _ds("Transform", transforms, Algorithm=EXC_C14N)
    _ds("DigestMethod", ref, Algorithm=SHA256)
    _ds("DigestValue", ref).text = digest


class HmacTestSigner:
    """A stand-in signer for tests and test stands: HMAC-SHA256, **not GOST**.

    ГИС ЖКХ refuses these signatures; use a GOST provider's :class:`Signer` in production.
    ``clock`` gives the XAdES ``SigningTime`` (injectable for reproducible output).
    """

    def __init__(self, key: bytes, *, clock: type[dt.datetime] = dt.datetime) -> None:
        if len(key) < 16:
            raise ValueError("a test signer key has at least 16 bytes")
        self._key = key
        self._clock = clock

    def sign(self, element: etree._Element) -> None:
        """Insert an XAdES-BES-shaped, HMAC-signed ``ds:Signature`` as the first child."""
        for old in element.findall(f"{{{DS}}}Signature"):
            element.remove(old)
        element.set("Id", CONTAINER_ID)
        container = _container_digest(element)

        sig = _ds("Signature", Id=_SIG_ID)
        obj_holder = etree.Element(f"{{{DS}}}Object", nsmap={"ds": DS})
        qp = etree.SubElement(
            obj_holder,
            f"{{{XADES}}}QualifyingProperties",
            {"Target": f"#{_SIG_ID}"},
            nsmap={"xades": XADES},
        )
        sp = etree.SubElement(qp, f"{{{XADES}}}SignedProperties", {"Id": _PROPS_ID})
        ssp = etree.SubElement(sp, f"{{{XADES}}}SignedSignatureProperties")
        now = self._clock.now(dt.UTC).replace(microsecond=0)
        etree.SubElement(ssp, f"{{{XADES}}}SigningTime").text = now.isoformat()
        props_digest = _digest(_c14n(sp))

        info = _ds("SignedInfo", sig)
        _ds("CanonicalizationMethod", info, Algorithm=EXC_C14N)
        _ds("SignatureMethod", info, Algorithm=HMAC_SHA256)
        _reference(info, f"#{CONTAINER_ID}", container, enveloped=True)
        _reference(
            info,
            f"#{_PROPS_ID}",
            props_digest,
            enveloped=False,
            type_="http://uri.etsi.org/01903#SignedProperties",
        )
        value = hmac.new(self._key, _c14n(info), hashlib.sha256).digest()
        _ds("SignatureValue", sig).text = base64.b64encode(value).decode("ascii")
        key_info = _ds("KeyInfo", sig)
        _ds("KeyName", key_info).text = "pes-sdk HMAC test key (NOT GOST)"
        sig.append(obj_holder)
        element.insert(0, sig)

    def verify(self, element: etree._Element) -> bool:
        """True when ``element`` carries a signature of this key over its current content."""
        sig = element.find(f"{{{DS}}}Signature")
        if sig is None or element.get("Id") != CONTAINER_ID:
            return False
        info = sig.find(f"{{{DS}}}SignedInfo")
        value = sig.findtext(f"{{{DS}}}SignatureValue") or ""
        if info is None:
            return False
        expected = hmac.new(self._key, _c14n(info), hashlib.sha256).digest()
        try:
            given = base64.b64decode(value, validate=True)
        except ValueError:
            return False
        if not hmac.compare_digest(expected, given):
            return False
        refs = info.findall(f"{{{DS}}}Reference")
        if len(refs) != 2 or refs[0].get("URI") != f"#{CONTAINER_ID}":
            return False
        if refs[0].findtext(f"{{{DS}}}DigestValue") != _container_digest(element):
            return False
        sp = sig.find(f".//{{{XADES}}}SignedProperties")
        return sp is not None and refs[1].findtext(f"{{{DS}}}DigestValue") == _digest(_c14n(sp))


def make_signer(kind: str, *, key_env: str = "", factory: str = "") -> Signer | None:
    """The signer ``GIS.toml``'s ``[gis.signer]`` names (see :class:`SignerSettings`).

    ``none`` gives ``None`` (unsigned); ``test-hmac`` reads its key from the environment
    variable ``key_env``; ``external`` imports ``module:callable`` and calls it without
    arguments. Raises :class:`~pes_sdk_gis_zhkh.errors.GisConfigError` when that fails.
    """
    import importlib
    import os

    from pes_sdk_gis_zhkh.errors import GisConfigError

    if kind == "none":
        return None
    if kind == "test-hmac":
        key = os.environ.get(key_env, "")
        if len(key) < 16:
            raise GisConfigError(f"signer test-hmac: set {key_env} to a key of 16+ characters")
        return HmacTestSigner(key.encode("utf-8"))
    if kind == "external":
        module, _, attr = factory.partition(":")
        try:
            made = getattr(importlib.import_module(module), attr)()
        except Exception as exc:
            raise GisConfigError(f"signer factory {factory!r} failed: {exc}") from exc
        if not isinstance(made, Signer):
            raise GisConfigError(f"signer factory {factory!r} did not return a Signer")
        return made
    raise GisConfigError(f"unknown signer kind {kind!r}")
