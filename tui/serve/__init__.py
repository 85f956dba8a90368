"""The web server of `optplay serve`: the app in a web browser, one app process per tab.

server.py is the web server (textual-serve's, with tab processes that always end; it needs the
`serve` extra), options.py what it is started with, driver.py the Textual driver of a served
app process. The command (arguments, checks, messages; no web library) is
tui/commands/serve.py.
"""
