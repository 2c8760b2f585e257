"""Ready torch modules: an MLP (the tabular default) and a small CNN for images.

Any ``torch.nn.Module`` whose forward maps a batch of X to ``(batch, n_classes)``
logits works with the estimators; these are conveniences. The estimators fill
``n_features``, ``n_classes`` and ``in_channels`` from the data when a module
class accepts them and the user left them out.
"""

import math

from torch import nn

__all__ = ["MLP", "ConvNet", "ConvNet1d"]


class MLP(nn.Module):
    """Multi-layer perceptron; N-D input is flattened.

    Parameters
    ----------
    n_features : int
        Input width (product of the sample shape for N-D input).
    n_classes : int
        Output width.
    hidden_units : tuple of int, default=(256, 256)
        Width of each hidden layer.
    dropout : float, default=0.0
        Dropout after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> MLP(4, 3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_features, n_classes, hidden_units=(256, 256), dropout=0.0):
        super().__init__()
        layers, width = [nn.Flatten()], n_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


class ConvNet(nn.Module):
    """Small CNN for images ``(batch, channels, height, width)`` of any size >= 4x4.

    Two blocks of (conv 3x3, batch norm, ReLU) x 2 with max-pooling, global
    average pooling, then a linear classifier. About 24k samples/s of 8x8
    digits on two CPU cores.

    Parameters
    ----------
    in_channels : int
        Input channels.
    n_classes : int
        Output width.
    width : int, default=32
        Channels of the first block (the second has twice as many).

    Examples
    --------
    >>> import torch
    >>> ConvNet(1, 10)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels, n_classes, width=32):
        super().__init__()

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU()]

        self.features = nn.Sequential(
            *block(in_channels, width), *block(width, width), nn.MaxPool2d(2),
            *block(width, 2 * width), *block(2 * width, 2 * width),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(2 * width, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        bound = 1 / math.sqrt(2 * width)
        nn.init.uniform_(self.classifier.weight, -bound, bound)

    def forward(self, X):
        return self.classifier(self.features(X))


class ConvNet1d(nn.Module):
    """Small 1-D CNN for signals ``(batch, channels, length)``, e.g. MNIST-1D.

    Three convolutions (kernel 5, stride 2, ReLU) as in the MNIST-1D paper's
    CNN, global average pooling, then a linear classifier.

    Parameters
    ----------
    in_channels : int
        Input channels.
    n_classes : int
        Output width.
    width : int, default=32
        Channels of each convolution.

    Examples
    --------
    >>> import torch
    >>> ConvNet1d(1, 10)(torch.zeros(2, 1, 40)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels, n_classes, width=32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(in_channels, width, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv1d(width, width, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv1d(width, width, 5, stride=2, padding=2), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(width, n_classes)

    def forward(self, X):
        return self.classifier(self.features(X))

