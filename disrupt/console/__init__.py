"""The caseworker console: the queue and the case page, which show what every feature knows
about a case (its addresses' checks, removal requests, traced hosts, exchange feedback), so
the console depends on those features and none of them on it. The blueprint keeps the name
``cases``: endpoints (``cases.case_page``…) and templates (templates/cases/) are unchanged."""
