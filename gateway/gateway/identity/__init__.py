"""Who is calling, and how the gateway vouches for it upstream.

- :mod:`.credentials`: API keys and OAuth client secrets, made and checked (salted hashes only);
- :mod:`.tokens`: bearer tokens (JWT) issued and verified, keys rotating;
- :mod:`.throttle`: failed attempts counted per address, and per identity from an address;
- :mod:`.clients`: the registered clients, read through a short cache;
- :mod:`.authenticator`: the one place credentials are checked, for proxied requests and the token
  endpoint alike;
- :mod:`.signer`: the signed principal headers sent with each request to a service.
"""
