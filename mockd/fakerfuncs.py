"""The ``faker.<type>`` template functions (README.rst, "Responses and templates").

Each type maps to a call on a shared :class:`faker.Faker` instance. The ``faker`` library is
heavy (about 0.2 s to import and build), so it is imported on first use, never when this
module is imported. :mod:`mockd.templatefuncs` registers these through its hookimpl.
"""
import threading

_lock = threading.Lock()
_faker = None
# The seed of mockd.randomness.install() (--seed), applied to the Faker when it is built if
# that comes later; None: Faker draws from its own unseeded generator.
_seed = None

# faker has no commerce provider; build product names the way upstream mockd does.
_PRODUCT_ADJECTIVES = ("Small", "Ergonomic", "Rustic", "Intelligent", "Gorgeous", "Sleek",
                       "Practical", "Fantastic", "Handcrafted", "Refined")
_PRODUCT_MATERIALS = ("Steel", "Wooden", "Concrete", "Plastic", "Cotton", "Granite", "Rubber",
                      "Leather", "Silk", "Bronze")
_PRODUCT_NOUNS = ("Chair", "Car", "Computer", "Keyboard", "Mouse", "Bike", "Ball", "Gloves",
                  "Table", "Lamp")


def get_faker():
    """Return the process-wide :class:`faker.Faker` (``en_US``), creating it on first use."""
    global _faker
    if _faker is None:
        with _lock:
            if _faker is None:
                from faker import Faker  # lazy: importing faker costs ~0.15 s

                fake = Faker("en_US")
                if _seed is not None:
                    fake.seed_instance(_seed)
                _faker = fake  # published seeded: another thread may use it at once
    return _faker


def reseed(seed):
    """Seed the shared Faker with the int ``seed``: now if it is built, else when it is.
    Called by :func:`mockd.randomness.install`; faker is not imported for it."""
    global _seed
    with _lock:  # not between get_faker()'s build and its check of _seed
        _seed = seed
        if _faker is not None:
            _faker.seed_instance(seed)


def _provider(method, convert=None):
    def func():
        value = getattr(_faker or get_faker(), method)()
        return convert(value) if convert else value

    func.__name__ = f"faker_{method}"
    func.__qualname__ = func.__name__
    func._mockd_prepare = get_faker  # mockd.templating calls this at compile time (warm-up)
    return func


def _words(n=None):
    fake = _faker or get_faker()
    try:
        n = int(n) if n is not None else fake.random_int(3, 5)
    except (TypeError, ValueError):
        n = 3
    if n <= 0:
        n = 3
    return " ".join(fake.words(min(n, 1000)))


def _price():
    fake = _faker or get_faker()
    return f"{fake.pyfloat(min_value=1, max_value=1000, right_digits=2):.2f}"


def _product_name():
    el = (_faker or get_faker()).random_element
    return f"{el(_PRODUCT_ADJECTIVES)} {el(_PRODUCT_MATERIALS)} {el(_PRODUCT_NOUNS)}"


def _one_line(text):
    return text.replace("\n", ", ")


def _marked(func):
    func._mockd_prepare = get_faker
    return func


# Spelling as upstream documents it; templating matches names case-insensitively.
FAKER_FUNCTIONS = {
    "faker.uuid": _provider("uuid4"),
    "faker.boolean": _provider("boolean"),  # a bool renders as true/false
    "faker.name": _provider("name"),
    "faker.firstName": _provider("first_name"),
    "faker.lastName": _provider("last_name"),
    "faker.email": _provider("email"),
    "faker.address": _provider("address", _one_line),
    "faker.phone": _provider("phone_number"),
    "faker.company": _provider("company"),
    "faker.word": _provider("word"),
    "faker.words": _marked(_words),
    "faker.sentence": _provider("sentence"),
    "faker.paragraph": _provider("paragraph"),
    "faker.username": _provider("user_name"),
    "faker.ipv4": _provider("ipv4"),
    "faker.ipv6": _provider("ipv6"),
    "faker.macAddress": _provider("mac_address"),
    "faker.userAgent": _provider("user_agent"),
    "faker.url": _provider("url"),
    "faker.creditCard": _provider("credit_card_number"),
    "faker.creditCardExp": _provider("credit_card_expire"),
    "faker.cvv": _provider("credit_card_security_code"),
    "faker.currencyCode": _provider("currency_code"),
    "faker.currency": _provider("currency_name"),
    "faker.iban": _provider("iban"),
    "faker.price": _marked(_price),
    "faker.productName": _marked(_product_name),
    "faker.color": _provider("color_name"),
    "faker.hexColor": _provider("hex_color"),
    "faker.ssn": _provider("ssn"),
    "faker.passport": _provider("passport_number"),
    "faker.jobTitle": _provider("job"),
    "faker.latitude": _provider("latitude", str),  # Decimal -> "42.809900"
    "faker.longitude": _provider("longitude", str),
    "faker.city": _provider("city"),
    "faker.state": _provider("state"),
    "faker.zipCode": _provider("zipcode"),
    "faker.country": _provider("country"),
    "faker.slug": _provider("slug"),
    "faker.mimeType": _provider("mime_type"),
    "faker.fileExtension": _provider("file_extension"),
}
