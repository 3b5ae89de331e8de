from nexus_desktop.engine import Engine, Piece, TurnResult


def test_tiny_engine_turn(paths, tiny_settings):
    engine = Engine(paths, tiny_settings)
    engine.open()
    events = list(engine.turn("hello"))
    engine.close()
    assert isinstance(events[-1], TurnResult)
    assert events[-1].status == "complete"
    assert "".join(e.text for e in events if isinstance(e, Piece)) == events[-1].reply
