from django.urls import path

from wachat.widget import views

urlpatterns = [
    path("", views.home, name="home"),
    path("demo/", views.demo_page, name="demo"),
]
