"""Exceptions raised by django-shipping-orders.

Everything the app raises at run time derives from :class:`ShippingOrdersError`,
so ``except ShippingOrdersError`` catches every provider and data fault.
Configuration errors derive from Django's ``ImproperlyConfigured`` instead and
stay outside that root on purpose: a broken setting must never be swallowed
by code that handles provider faults.

Messages carry the provider's ``error`` code and ``error_description`` and
never a credential: request headers are not part of any message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation

if TYPE_CHECKING:
    from typing import Unpack

    import requests


class ErrorContext(TypedDict, total=False):
    """The context an error may carry besides its message: the keywords of ShippingOrdersError."""

    status_code: int | None
    code: str
    description: str
    response: requests.Response | None
    account: str
    reference: str
    retry_after: float | None


class ShippingOrdersError(Exception):
    """Root of every run-time error of the app, with the context needed to act on it."""

    def __init__(
        self,
        message: str = "",
        *,
        status_code: int | None = None,
        code: str = "",
        description: str = "",
        response: requests.Response | None = None,
        account: str = "",
        reference: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.description = description
        self.response = response
        self.account = account
        self.reference = reference
        self.retry_after = retry_after
        super().__init__(message or self.describe())

    def describe(self) -> str:
        """A one-line message built from the context (used when no message is given)."""
        parts = [self.__class__.__name__]
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.code:
            parts.append(self.code)
        text = " ".join(parts)
        if self.description:
            text += f": {self.description}"
        where = []
        if self.account:
            where.append(f"account {self.account!r}")
        if self.reference:
            where.append(f"order {self.reference!r}")
        if where:
            text += f" ({', '.join(where)})"
        return text


# -- the provider answered, and the answer is an error -----------------------------------


class ProviderAPIError(ShippingOrdersError):
    """The provider answered with an error status or an unusable body."""


class InvalidMerchantAccount(ProviderAPIError):
    """401 or 403: the API key is not valid for this merchant account (never retried)."""


class OrderNotFound(ProviderAPIError):
    """404: the provider does not know this order reference (never retried)."""


class ProviderValidationError(ProviderAPIError):
    """422 (or another 4xx): the provider refused the request; ``code`` says why."""


class OrderCannotBeCancelled(ProviderValidationError):
    """422 ``order_cannot_be_cancelled``: the order is already on its way."""

    def __init__(
        self, message: str = "", *, order_state: str = "", **context: Unpack[ErrorContext]
    ) -> None:
        self.order_state = order_state
        super().__init__(message, **context)


class LabelNotReady(ProviderValidationError):
    """422 from the label endpoint: no courier has been allocated yet."""


class RateLimited(ProviderAPIError):
    """429 that outlasted the retries (or the caller's wait); ``retry_after`` says when to come back."""


class RateBudgetExhausted(RateLimited):
    """The account's own rate budget had no slot within the caller's wait: nothing was sent.

    Raised before any request leaves, so it is always safe to try again
    after ``retry_after`` seconds (placing an order included).
    """


class ProviderUnavailable(ProviderAPIError):
    """5xx, a timeout or a connection error that outlasted the retries."""


class ProviderTimeout(ProviderUnavailable):
    """The provider did not answer within the configured timeout."""


class InvalidProviderResponse(ProviderAPIError):
    """The provider answered 2xx with a body we cannot read (not JSON, wrong shape)."""


class UnexpectedRedirect(InvalidProviderResponse):
    """The provider answered 3xx. API calls never follow redirects: a redirect could
    re-send a POST, loop, or carry the auth headers to another host. A 3xx means
    the request was not acted on, so placing an order that got one is safe to retry.
    """


class SubmissionOutcomeUnknown(ProviderUnavailable):
    """Placing an order may or may not have created it at the provider.

    The POST timed out or failed in transit, its answer could not be read, or
    the answer could not be stored here (a database error after the POST).
    The local row is kept, marked ``unknown`` (with the provider's
    ``reference`` when its answer named one); a callback or a refresh about
    the order completes it. The app never re-sends such an order by itself
    (the provider has no idempotency key, so a blind retry ships twice).
    """


class OrderNotSent(ShippingOrdersError):
    """Placing an order failed before anything was sent (the local row could not be written).

    The provider knows nothing of the order: placing it again is safe. The
    database error is the ``__cause__``.
    """


# -- data we were given is wrong -----------------------------------------------------------


class DocumentError(ShippingOrdersError, ValueError):
    """An order document (from the provider or a caller) has a wrong or missing field."""

    def __init__(self, message: str, *, field: str = "", **context: Unpack[ErrorContext]) -> None:
        self.field = field
        super().__init__(message, **context)


class ValueOutOfRange(DocumentError):
    """A number its column cannot hold (a price of 10^20, a quantity of 10^12).

    Never fails a document: the field is left unset, the provider's value
    stays in ``raw`` and the order carries a warning (``Order.data_warnings``).
    """


class UnreadableDocument(DocumentError):
    """A JSON body that cannot be read, or that breaks a limit of ``DOCUMENT_LIMITS``.

    Raised by ``documents.loads`` before any value in the body is used; ``code``
    names the problem (``invalid_json``, ``number_too_large``, ``too_many_items``,
    ``too_deep``, ``too_large``, ``unstorable_text``) and ``field`` where it is.
    """


class CallbackError(ShippingOrdersError, SuspiciousOperation):
    """A callback body we cannot accept; Django turns ``SuspiciousOperation`` into a 400."""


class OrderStateError(ShippingOrdersError):
    """The local order is not in a state that allows the requested operation."""


class LabelError(ShippingOrdersError):
    """A label could not be downloaded, stored or merged: a refused URL, not a PDF, too large."""


class LabelRefused(LabelError):
    """No label can be fetched as things stand: its URL is off the allow-list or resolves to a
    forbidden address, or the provider gives no URL and has no label endpoint. Trying again
    does not help until the settings or the provider's answer change, so the refresh does not."""


# -- configuration -------------------------------------------------------------------------


class ShippingOrdersConfigurationError(ImproperlyConfigured):
    """The ``SHIPPING_ORDERS`` setting is wrong; the message names the key."""


class UnknownAccount(ShippingOrdersConfigurationError, KeyError):
    """No account with this alias in ``SHIPPING_ORDERS["ACCOUNTS"]``."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


#: Errors after which polling the order again soon is pointless (they wait the longest delay).
PERMANENT_ERRORS: tuple[type[ShippingOrdersError], ...] = (OrderNotFound, InvalidMerchantAccount)
