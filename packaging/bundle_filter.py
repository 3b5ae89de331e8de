"""What the PyInstaller build leaves out (used by nexus_desktop.spec; tested on its own).

Excluding a Python module does not drop the Qt libraries it links, nor the plugins and
data the Qt hooks collect for it, so the collected binaries and data are filtered too.
"""

from __future__ import annotations

import re
from pathlib import PurePath

# Qt modules Nexus Desktop does not use. It needs QtCore, QtGui, QtWidgets, QtNetwork,
# and QtOpenGL with QtOpenGLWidgets, which pyqtgraph's plots import (without them the
# frozen app failed to start); pyqtgraph only tries QtSvg and QtTest and works without
# them. Qt's own Svg library stays: the icon and image plugins use it.
UNUSED_QT = ["Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender",
             "QtBluetooth", "QtCharts", "QtConcurrent", "QtDataVisualization", "QtDesigner",
             "QtGraphs", "QtHelp", "QtHttpServer", "QtLocation", "QtMultimedia",
             "QtMultimediaWidgets", "QtNfc", "QtPdf",
             "QtPdfWidgets", "QtPositioning", "QtPrintSupport", "QtQml", "QtQuick", "QtQuick3D",
             "QtQuickControls2", "QtQuickTest", "QtQuickWidgets", "QtRemoteObjects", "QtScxml",
             "QtSensors", "QtSerialBus", "QtSerialPort", "QtSpatialAudio", "QtSql",
             "QtStateMachine", "QtSvg", "QtSvgWidgets", "QtTest", "QtTextToSpeech", "QtUiTools",
             "QtWebChannel", "QtWebEngineCore", "QtWebEngineQuick", "QtWebEngineWidgets",
             "QtWebSockets", "QtWebView", "QtXml"]
EXCLUDED_MODULES = [
    *(f"PySide6.{name}" for name in UNUSED_QT),
    # Other GUI toolkits and tools that optional imports would otherwise pull in.
    "tkinter", "matplotlib", "IPython", "PyQt5", "PyQt6", "PySide2",
    # Test and development tools installed beside the app, never used by it.
    # (torch.testing._internal stays: torch.utils.checkpoint imports it.)
    "pytest", "hypothesis", "schemathesis", "torch.utils.tensorboard",
]

# Qt libraries (Qt6Quick.dll, libQt6Quick.so.6, QtQuick.framework) of the modules above.
_QT_LIBRARY = re.compile(
    r"(?:lib)?Qt6?(?:3D|Bluetooth|Charts|Concurrent|DataVisualization|Designer|"
    r"Graphs|Help|HttpServer|Labs|Location|Multimedia|Nfc|Pdf|Positioning|PrintSupport|"
    r"Qml|Quick|RemoteObjects|Scxml|Sensors|SerialBus|SerialPort|ShaderTools|SpatialAudio|Sql|"
    r"StateMachine|Test|TextToSpeech|UiTools|VirtualKeyboard|WebChannel|WebEngine|"
    r"WebSockets|WebView|Xml)\w*(?:\.dll|\.so[.\d]*|\.dylib|\.framework|\.abi3\.so|\.pyd)?$",
    re.IGNORECASE,
)
# Plugin folders for those modules, and Qt data the app never reads.
_DROPPED_FOLDERS = ("qmltooling", "sqldrivers", "multimedia", "position", "sensors",
                    "designer", "webview", "virtualkeyboard", "canbus", "qml", "translations",
                    "renderers", "sceneparsers", "geometryloaders", "texttospeech",
                    "printsupport")
# Data of big packages that only their own developers use.
_DROPPED_DATA = (("torch", "include"), ("torch", "share"))


def _parts(name: str) -> tuple[str, ...]:
    return PurePath(name.replace("\\", "/")).parts


def keep_binary(dest_name: str) -> bool:
    """False for a library or plugin of an unused Qt module, or a CUDA library."""
    parts = _parts(dest_name)
    name = parts[-1]
    if _QT_LIBRARY.match(name) and ("PySide6" in parts or name.lower().startswith("libqt6")):
        return False
    if "plugins" in parts and any(folder in parts for folder in _DROPPED_FOLDERS):
        return False
    # The CPU build of torch has no CUDA libraries; a CUDA build must not slip in here.
    return not re.search(r"(?:cudnn|cublas|cufft|curand|cusparse|cusolver|nccl|nvrtc|"
                         r"cudart|torch_cuda)", parts[-1], re.IGNORECASE)


def keep_data(dest_name: str) -> bool:
    """False for Qt data of unused parts and developer files of big packages."""
    parts = _parts(dest_name)
    if "PySide6" in parts and any(folder in parts for folder in _DROPPED_FOLDERS):
        return False
    return not any(parts[:len(prefix)] == prefix for prefix in _DROPPED_DATA)
