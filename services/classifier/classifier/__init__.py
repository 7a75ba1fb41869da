"""Shelter Watch classifier: is it a cat, a dog, or nobody?"""
