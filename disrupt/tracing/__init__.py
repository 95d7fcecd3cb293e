"""Who hosts a URL: its addresses, the network's holder, country and abuse contact (RDAP),
the domain's registrar and its abuse contact, and a CDN or reverse proxy in front."""
