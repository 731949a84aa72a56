from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from wachat.widget import views

urlpatterns = [
    path("", views.home, name="home"),
    path("demo/", views.demo_page, name="demo"),
    # Browsers ask every site for one; the Center, admin and emulator pages get WaChat's.
    path("favicon.ico", RedirectView.as_view(url=static("wachat/icon.svg"), permanent=True)),
]
